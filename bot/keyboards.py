"""Inline keyboards of the command menus (the questionnaire's are in views.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from backend.i18n import Translator
from bot.callbacks import encode_language, encode_stop
from bot.texts_authority import broadcast_keyboard, resolve_keyboard
from bot.texts_commands import native_name


def languages(t: Translator, p: dict[str, Any]) -> InlineKeyboardMarkup:
    """Each language named in itself, so that anyone finds theirs."""
    buttons = [
        InlineKeyboardButton(
            ("✅ " if language == p.get("current") else "") + native_name(language),
            callback_data=encode_language(language, p["menu"]),
        )
        for language in p.get("languages", [])
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def stop(t: Translator, p: dict[str, Any]) -> InlineKeyboardMarkup:
    _ = t.gettext
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, stop the questions"), callback_data=encode_stop(True, p["menu"])
                )
            ],
            [InlineKeyboardButton(_("No, continue"), callback_data=encode_stop(False, p["menu"]))],
        ]
    )


KEYBOARDS: dict[str, Callable[[Translator, dict[str, Any]], InlineKeyboardMarkup]] = {
    "languages": languages,
    "stop": stop,
    "resolve": resolve_keyboard,
    "broadcast": broadcast_keyboard,
}
