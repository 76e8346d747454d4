"""What every citizen-facing use case shares: one transaction per Telegram update.

Each handler records the update, reads the chat's cases, decides, and writes its state change
together with its replies to the outbox, all in one transaction: a redelivered update changes
nothing, a crash loses nothing, and a retried transaction has no side effects to repeat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from backend.domain.cases import Case
from backend.domain.messages import NEXT_ENDED, NEXT_PAUSED, NO_REGION, Kind, Outgoing, Priority
from backend.i18n import pick_language
from backend.services.context import ServiceContext
from backend.storage import cases as case_store
from backend.storage import outbox as outbox_store
from backend.storage.updates import claim_update


@dataclass(frozen=True)
class ChatUpdate:
    """The plain facts of one Telegram update that the conversation needs."""

    key: str  # identifies the update for deduplication: see bot.handlers.update_key
    chat_id: int
    telegram_language: str | None = None


@dataclass
class Replies:
    """Messages produced while handling one update, in order, keyed by the update."""

    update: ChatUpdate
    language: str
    region: str = NO_REGION
    messages: list[Outgoing] = field(default_factory=list)
    # Done once the transaction has committed (metrics): a retried body must not repeat them.
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def add(self, kind: Kind, subject_id: UUID | None = None, **payload: Any) -> None:
        self.messages.append(
            Outgoing(
                chat_id=self.update.chat_id,
                kind=kind,
                language=self.language,
                priority=Priority.ALERT if kind == Kind.ANSWER_CALLBACK else Priority.INTERACTIVE,
                dedup_key=f"update:{self.update.key}:{len(self.messages)}",
                payload=payload,
                region=self.region,
                subject_id=subject_id,
            )
        )

    def say(self, message: str, keyboard: str | None = None, **params: Any) -> None:
        """A new message named ``message`` (bot/texts.py), optionally with a keyboard."""
        self.add(Kind.REPLY, message=message, params=params, keyboard=keyboard)

    def menu(self, message: str, keyboard: str, **params: Any) -> None:
        """A message with a menu whose buttons name it (``params["menu"]``): an answer then
        counts on this menu only, found again by its outbox row (see ``outbox.find_menu``)."""
        menu_id = uuid4()
        self.add(
            Kind.REPLY,
            subject_id=menu_id,
            message=message,
            params={**params, "menu": str(menu_id)},
            keyboard=keyboard,
        )

    def edit(self, message_id: int, message: str, **params: Any) -> None:
        """Replace an earlier message (a menu that was answered) with ``message``."""
        self.add(Kind.EDIT, message_id=message_id, message=message, params=params)

    def notice(self, query_id: str, notice: str | None = None) -> None:
        """Answer a button press; ``notice`` names a short text shown on top of the chat."""
        self.add(Kind.ANSWER_CALLBACK, query=query_id, notice=notice)


@dataclass
class Chat:
    """The chat's cases as read in this transaction, and the replies being written."""

    cases: list[Case]
    replies: Replies

    @property
    def active(self) -> list[Case]:
        return [case for case in self.cases if case.status == "active"]

    def speak_as(self, case: Case) -> None:
        """Replies from here on are about ``case``: its language and region."""
        self.replies.language, self.replies.region = case.language, case.region


Handler = Callable[[asyncpg.Connection, Chat], Awaitable[None]]


async def once(ctx: ServiceContext, update: ChatUpdate, handle: Handler) -> bool:
    """Run ``handle`` once per update; False if the update was already processed."""

    committed: list[Replies] = []

    async def body(conn: asyncpg.Connection) -> list[Outgoing] | None:
        committed.clear()
        if not await claim_update(conn, update.key):
            return None
        cases = await case_store.find_by_chat(conn, update.chat_id)
        if any(case.unreachable_at for case in cases):
            # They write to us, so they have unblocked the bot.
            await case_store.mark_reachable(conn, update.chat_id)
        chat = Chat(cases, Replies(update, language_for(ctx, cases, update)))
        current = chat.active or cases
        if current:
            chat.speak_as(current[0])
        await handle(conn, chat)
        await outbox_store.enqueue(conn, chat.replies.messages)
        committed.append(chat.replies)
        return chat.replies.messages

    # Keyed by the update (claim_update): it may be re-run after a failover.
    messages = await ctx.db.keyed_transaction(body)
    for replies in committed:
        for action in replies.after_commit:
            action()
    if messages:
        ctx.outbox.notify()
    return messages is not None


def say_not_monitored(ctx: ServiceContext, chat: Chat) -> None:
    """The answer wherever monitoring is needed and the chat has none: that it ended (and
    whom to call if unwell), or, for a chat never registered, how to take part."""
    if not chat.cases:
        chat.replies.say("start_unregistered")
        return
    region = ctx.regions.get(chat.cases[-1].region)
    chat.replies.say("monitoring_ended", emergency=region.emergency_number if region else None)


def language_for(ctx: ServiceContext, cases: list[Case], update: ChatUpdate) -> str:
    """Chosen once per update: the case's language, else Telegram's if we ship it, else the
    source language (a chat without a case has no region whose default could apply)."""
    active = [case for case in cases if case.status == "active"] or cases
    if active:
        return active[0].language
    return pick_language(ctx.languages, update.telegram_language)


def next_prompt_at(ctx: ServiceContext, case: Case) -> str | None:
    """When ``case`` gets its next questions: an ISO time, ``NEXT_PAUSED`` or ``NEXT_ENDED``."""
    region = ctx.regions.get(case.region)
    if region is None:
        return None
    if case.stopped_at is not None:
        return NEXT_PAUSED
    at = region.next_prompt_for(ctx.clock.now(), case.quarantine_start, case.quarantine_end)
    return at.isoformat() if at else NEXT_ENDED
