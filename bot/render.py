"""Turns an outbox row (what to say) into a Bot API call (how to say it on Telegram)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.domain.clock import Clock
from backend.domain.messages import Kind
from backend.i18n import Catalogs, Translator
from backend.services.context import RegionDirectory
from backend.storage.outbox import OutboxRow
from bot import texts, texts_authority, texts_commands
from bot.keyboards import KEYBOARDS
from bot.views import question_view

REPLIES = {
    **texts.REPLIES,
    **texts_authority.REPLIES,
    "status": texts_commands.status,
    "choose_language": texts_commands.choose_language,
    "language_set": texts_commands.language_set,
    "privacy": texts_commands.privacy,
    "stop_confirm": texts_commands.stop_confirm,
    "stopped": texts_commands.stopped,
    "resumed": texts_commands.resumed,
}


@dataclass(frozen=True)
class BotCall:
    method: str  # Bot API method name
    params: dict[str, Any]


class UnknownMessage(ValueError):
    """An outbox row this version cannot render (a newer instance's kind, or a bug)."""


class Renderer:
    def __init__(self, catalogs: Catalogs, clock: Clock, regions: RegionDirectory | None = None):
        self.catalogs = catalogs
        self.clock = clock
        self.regions = regions

    def render(self, row: OutboxRow) -> BotCall:
        t = self.catalogs.get(row.language)
        now: datetime = self.clock.now()
        p = row.payload
        chat = {"chat_id": row.chat_id}
        if row.kind in (Kind.PROMPT, Kind.QUESTIONNAIRE):
            region = self.regions.get(p.get("region", "")) if self.regions else None
            text, keyboard = question_view(t, p, now, region)
            if p.get("message_id") is None:  # a fresh prompt, or the next step after typing
                return BotCall("sendMessage", {**chat, "text": text, "reply_markup": keyboard})
            return BotCall(
                "editMessageText",
                {**chat, "message_id": p["message_id"], "text": text, "reply_markup": keyboard},
            )
        if row.kind in (Kind.ALERT, Kind.ALERT_UPDATE):
            region = self.regions.get(p.get("region", "")) if self.regions else None
            text, keyboard = texts_authority.alert(t, p, now, region)
            if row.kind == Kind.ALERT:
                return BotCall("sendMessage", {**chat, "text": text, "reply_markup": keyboard})
            return BotCall(
                "editMessageText",
                {**chat, "message_id": p["message_id"], "text": text, "reply_markup": keyboard},
            )
        if row.kind == Kind.ANSWER_CALLBACK:
            notice = p.get("notice") or ""
            message = texts.NOTICES.get(notice) or texts_authority.NOTICES.get(notice)
            return BotCall(
                "answerCallbackQuery",
                {"callback_query_id": p["query"], "text": t.gettext(message) if message else None},
            )
        if row.kind == Kind.REPLY:
            params = {**chat, "text": self._reply(t, p, now)}
            if p.get("keyboard") in KEYBOARDS:
                params["reply_markup"] = KEYBOARDS[p["keyboard"]](t, p.get("params") or {})
            return BotCall("sendMessage", params)
        if row.kind == Kind.EDIT:
            text = self._reply(t, p, now)
            return BotCall("editMessageText", {**chat, "message_id": p["message_id"], "text": text})
        if row.kind == Kind.CLEAR_BUTTONS:
            return BotCall(
                "editMessageReplyMarkup",
                {**chat, "message_id": p["message_id"], "reply_markup": None},
            )
        if row.kind == Kind.REMINDER:
            return BotCall("sendMessage", {**chat, "text": texts.reminder(t)})
        if row.kind == Kind.CLOSING:
            return BotCall("sendMessage", {**chat, "text": texts.closing(t, p)})
        if row.kind == Kind.BROADCAST:
            return BotCall("sendMessage", {**chat, "text": texts.notice(t, p)})
        raise UnknownMessage(f"cannot render outbox kind {row.kind!r}")

    @staticmethod
    def _reply(t: Translator, p: dict[str, Any], now: datetime) -> str:
        render = REPLIES.get(p.get("message") or "")
        if render is None:
            raise UnknownMessage(f"no text named {p.get('message')!r}")
        return render(t, p.get("params") or {}, now)
