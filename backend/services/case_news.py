"""What the citizen is told when staff change their case: monitoring ended or resumed, new
quarantine dates, another authority.

Written in the transaction that makes the change (both commit, or neither), in the case's
language. A case that ends also takes the buttons off its questionnaire and withdraws what of
it is still queued: nothing left on the person's screen may look as if it still counted.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from uuid import uuid4

import asyncpg

from backend.domain.cases import Case
from backend.domain.messages import Kind, Outgoing, Priority
from backend.domain.prompt_screen import OnScreen
from backend.services.chat import next_prompt_at
from backend.services.context import ServiceContext
from backend.storage import outbox as outbox_store
from backend.storage import prompts as prompt_store


class News(StrEnum):
    """The message sent for each change (a text of bot/texts.py)."""

    CLOSED = "case_closed"
    REOPENED = "case_reopened"
    DATES_CHANGED = "dates_changed"
    MOVED = "case_moved"


def reachable(case: Case) -> bool:
    """Activated and not blocking the bot: someone to tell."""
    return case.chat_id is not None and case.unreachable_at is None


async def tell(ctx: ServiceContext, conn: asyncpg.Connection, case: Case, news: News) -> bool:
    """Queue ``news`` about ``case`` (as it is after the change); False if no one can be told.
    The caller wakes the sender once the transaction has committed."""
    if not reachable(case):
        return False
    assert case.chat_id is not None
    region = ctx.regions.require(case.region)
    event = uuid4().hex  # a case may be closed, reopened and closed again: each is told
    messages: list[Outgoing] = []
    if news is News.CLOSED:
        messages += await take_prompt_off_screen(conn, case, event)
    params: dict[str, Any] = {
        "label": case.label,  # whom it is about, in a household
        "start": case.quarantine_start.isoformat(),
        "end": case.quarantine_end.isoformat(),
        "authority": region.name,
        "emergency": region.emergency_number,
        "next": next_prompt_at(ctx, case),
    }
    messages.append(
        _outgoing(case, f"news:{case.id}:{event}", Kind.REPLY, message=news.value, params=params)
    )
    await outbox_store.enqueue(conn, messages)
    return True


async def take_prompt_off_screen(
    conn: asyncpg.Connection, case: Case, event: str
) -> list[Outgoing]:
    """The case's newest prompt stops: what of it is queued is withdrawn, and the message
    showing it loses its buttons (the messages to send for that)."""
    assert case.chat_id is not None
    cleared = []
    for prompt in await prompt_store.find_latest_for_cases(conn, [(case.region, case.id)]):
        await outbox_store.withdraw_prompt(conn, case.region, case.chat_id, prompt.id)
        shown = OnScreen.from_draft(prompt.draft).pressed
        if shown is None:
            sent = await outbox_store.find_prompt_messages(
                conn, case.region, case.chat_id, prompt.id
            )
            shown = sent.current if sent else None
        if shown is not None:
            key = f"ended:{case.id}:{event}:{shown}"
            cleared.append(_outgoing(case, key, Kind.CLEAR_BUTTONS, message_id=shown))
    return cleared


def _outgoing(case: Case, key: str, kind: Kind, **payload: Any) -> Outgoing:
    assert case.chat_id is not None
    return Outgoing(
        chat_id=case.chat_id,
        kind=kind,
        language=case.language,
        priority=Priority.INTERACTIVE,
        dedup_key=key,
        payload=payload,
        region=case.region,
    )
