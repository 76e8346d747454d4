"""Deleting diary data after each region's retention period, in batches."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg

from backend.domain.messages import NO_REGION
from backend.services.context import ServiceContext
from backend.storage import case_admin
from backend.storage import retention as store
from backend.storage import signin as signin_store
from backend.storage import updates as update_store

log = logging.getLogger(__name__)

BATCH = 200  # cases per transaction: a long purge never holds locks for long
UPDATE_BATCH = 5000  # processed_updates rows per transaction (small rows, one index)
# Telegram redelivers an unconfirmed update for at most 24 hours; keep a margin for clock skew
# and a Bot API server that is slow to give up.
KEEP_PROCESSED_UPDATES = timedelta(days=3)
# Failed and parked updates (keys and error types only) stay for an operator a fortnight.
KEEP_FAILED_UPDATES = timedelta(days=14)
ROW_BATCH = 2000  # outbox rows per transaction

# Sent and failed messages keep chat ids and payloads (questionnaire drafts with notes,
# temperatures, alert summaries). After a fortnight nothing needs them: alerts are edited
# within hours, and delivery problems are investigated within days.
OUTBOX_DAYS = 14
SESSION_RECORDS = timedelta(days=1)  # an ended console session is kept this long, then deleted


async def purge_expired(ctx: ServiceContext, region_id: str, batches: int = 50) -> int:
    """Purge cases closed longer ago than the region keeps data; returns the cases purged.

    What stays is anonymous: region, kind, quarantine dates and the number of entries.
    """
    region = ctx.regions.require(region_id)
    now = ctx.clock.now()
    cutoff = now - timedelta(days=region.retention_days)

    async def batch(conn: asyncpg.Connection, limit: int) -> int:
        ids = await case_admin.due_for_purge(conn, region.id, cutoff, limit)
        if ids:
            await case_admin.purge(conn, region.id, ids, now)
        return len(ids)

    purged = await _in_batches(ctx, batches, BATCH, batch)
    await purge_delivery_records(ctx, region.id, batches)
    if purged:
        log.info(
            "region %s: %d closed cases purged after %d days",
            region.id,
            purged,
            region.retention_days,
        )
    return purged


async def prune_processed_updates(
    ctx: ServiceContext, keep: timedelta = KEEP_PROCESSED_UPDATES, batches: int = 20
) -> int:
    """Forget processed updates older than ``keep`` (none can be redelivered); returns how many.

    Not per region: updates are the bot's, and every instance may run this, harmlessly.
    Measured on the database clock that recorded them (``storage.updates``)."""
    pruned = await _in_batches(ctx, batches, UPDATE_BATCH, update_store.prune_updates, keep)
    if pruned:
        log.info("%d processed updates older than %s forgotten", pruned, keep)
    failed = await _in_batches(
        ctx, batches, UPDATE_BATCH, update_store.prune_failures, KEEP_FAILED_UPDATES
    )
    if failed:
        log.info("%d failed-update records older than %s forgotten", failed, KEEP_FAILED_UPDATES)
    return pruned


async def forget_console_sessions(ctx: ServiceContext, batches: int = 20) -> int:
    """Delete console sessions a day after their lifetime ended (revoked ones too: they end
    by then as well). Their times are the service clock's, like the sessions' own checks."""
    cutoff = ctx.clock.now() - SESSION_RECORDS
    forgotten = await _in_batches(ctx, batches, ROW_BATCH, signin_store.purge_sessions, cutoff)
    if forgotten:
        log.info("%d ended console sessions forgotten", forgotten)
    return forgotten


async def purge_delivery_records(ctx: ServiceContext, region_id: str, batches: int = 50) -> int:
    """Delete the region's finished outbox rows after ``OUTBOX_DAYS``, and (in every region's
    sweep: the deletes are idempotent and indexed) those of no region. Returns the rows
    deleted. Processed updates are pruned by ``prune_processed_updates``. Measured on the
    database clock that wrote the finishing times (``storage.retention``)."""
    keep = timedelta(days=OUTBOX_DAYS)
    deleted = 0
    for region in (region_id, NO_REGION):
        deleted += await _in_batches(
            ctx, batches, ROW_BATCH, store.purge_finished_outbox, region, keep
        )
    return deleted


async def _in_batches(
    ctx: ServiceContext,
    batches: int,
    size: int,
    step: Callable[..., Awaitable[int]],
    *args: Any,
) -> int:
    """Run ``step(conn, *args, size)`` in its own transaction until it does less than ``size``
    (or ``batches`` times); return the total. Short transactions never hold locks for long."""
    total = 0
    for _ in range(batches):
        done = await ctx.db.transaction(step, *args, size)
        total += done
        if done < size:
            break
    return total
