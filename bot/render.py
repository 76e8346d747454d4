"""Turns an outbox row (what to say) into a Bot API call (how to say it on Telegram)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backend.domain.clock import Clock
from backend.domain.messages import Kind
from backend.i18n import Catalogs
from backend.storage.outbox import OutboxRow
from bot.texts import NOTICES, REPLIES, closing, notice, reminder
from bot.views import question_view


@dataclass(frozen=True)
class BotCall:
    method: str  # Bot API method name
    params: dict[str, Any]


class UnknownMessage(ValueError):
    """An outbox row this version cannot render (a newer instance's kind, or a bug)."""


class Renderer:
    def __init__(self, catalogs: Catalogs, clock: Clock):
        self.catalogs = catalogs
        self.clock = clock

    def render(self, row: OutboxRow) -> BotCall:
        t = self.catalogs.get(row.language)
        now: datetime = self.clock.now()
        p = row.payload
        if row.kind == Kind.PROMPT:
            text, keyboard = question_view(t, dict(p, step="ask"), now)
            return BotCall(
                "sendMessage", {"chat_id": row.chat_id, "text": text, "reply_markup": keyboard}
            )
        if row.kind == Kind.QUESTIONNAIRE:
            text, keyboard = question_view(t, p, now)
            return BotCall(
                "editMessageText",
                {
                    "chat_id": row.chat_id,
                    "message_id": p["message_id"],
                    "text": text,
                    "reply_markup": keyboard,
                },
            )
        if row.kind == Kind.ANSWER_CALLBACK:
            message = NOTICES.get(p.get("notice") or "")
            return BotCall(
                "answerCallbackQuery",
                {"callback_query_id": p["query"], "text": t.gettext(message) if message else None},
            )
        if row.kind == Kind.REPLY and p.get("message") in REPLIES:
            text = REPLIES[p["message"]](t, p.get("params") or {}, now)
            return BotCall("sendMessage", {"chat_id": row.chat_id, "text": text})
        if row.kind == Kind.REMINDER:
            return BotCall("sendMessage", {"chat_id": row.chat_id, "text": reminder(t)})
        if row.kind == Kind.CLOSING:
            return BotCall("sendMessage", {"chat_id": row.chat_id, "text": closing(t, p)})
        if row.kind == Kind.BROADCAST:
            return BotCall("sendMessage", {"chat_id": row.chat_id, "text": notice(t, p)})
        raise UnknownMessage(f"cannot render outbox kind {row.kind!r}")
