"""Telegram updates whose processing failed: counted across redeliveries, and parked when
retrying does not mend them.

An update is confirmed to Telegram only after its effect is committed (bot.ingest), so a
failure means it comes again: a conflict, a database that was briefly away or a deadlock
mends itself that way, unseen by the person. An update that fails ``MAX_ATTEMPTS`` times is
parked instead: recorded with its key and the error's type (never its content), counted in a
metric, logged, confirmed, and only then is the person told "sorry".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from backend import metrics
from backend.services.chat import Chat, ChatUpdate, once
from backend.services.context import ServiceContext
from backend.storage import updates as update_store
from backend.storage.updates import FailedUpdate

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # failed deliveries of one update before it is parked
# ... when each failure was contention or the database being away, which redelivery mends:
# a larger budget, so that a long failover or a burst of conflicts loses nobody's answer.
MAX_TRANSIENT_ATTEMPTS = 20


@dataclass(frozen=True)
class Parked:
    key: str  # the update's key (bot.ingest.update_key), or its id for one that cannot be read
    error: str  # the type of the last error
    chat: ChatUpdate | None = None  # whom to tell "sorry"; None: nobody (a group, unreadable)
    query_id: str | None = None  # a button press: "sorry" shows on top of the chat


async def record_failure(ctx: ServiceContext, key: str, error: str) -> int:
    """Count a failed attempt; return how many there have been for this update."""
    return await ctx.db.transaction(update_store.record_failure, key, error)


async def park(ctx: ServiceContext, parked: Parked, attempts: int) -> None:
    """Give the update up: record it, tell the person "sorry" (in their case's language) and
    mark the update processed, all in one transaction, so that a redelivery finds it done."""
    if parked.chat is None:

        async def record(conn: asyncpg.Connection) -> None:
            if await update_store.claim_update(conn, parked.key):
                await update_store.mark_parked(conn, parked.key, parked.error)

        await ctx.db.keyed_transaction(record)
    else:

        async def apologise(conn: asyncpg.Connection, chat: Chat) -> None:
            await update_store.mark_parked(conn, parked.key, parked.error)
            if parked.query_id is not None:
                chat.replies.notice(parked.query_id, "sorry")
            else:
                chat.replies.say("sorry")

        await once(ctx, parked.chat, apologise)
    metrics.UPDATES_PARKED.labels(parked.error).inc()
    # The key only: the update's content is a person's message.
    log.error(
        "update %s parked: %d attempt(s) failed (%s); see `symptom-diary updates parked`",
        parked.key.partition(":")[0],
        attempts,
        parked.error,
    )


async def failed_updates(
    ctx: ServiceContext, *, parked_only: bool, limit: int = 100
) -> list[FailedUpdate]:
    """For an operator: the latest failures, or the parked updates only."""
    return await ctx.db.transaction(update_store.find_failed, parked_only=parked_only, limit=limit)
