"""Deleting diary data after each region's retention period, in batches."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

from backend.domain.messages import NO_REGION
from backend.services.context import ServiceContext
from backend.storage import case_admin
from backend.storage import retention as store

log = logging.getLogger(__name__)

BATCH = 200  # cases per transaction: a long purge never holds locks for long
ROW_BATCH = 2000  # outbox rows or update records per transaction

# Sent and failed messages keep chat ids and payloads (questionnaire drafts with notes,
# temperatures, alert summaries). After a fortnight nothing needs them: alerts are edited
# within hours, and delivery problems are investigated within days.
OUTBOX_DAYS = 14
# Telegram redelivers an update within hours at most; the record of it (whose key carries
# the chat id) is kept a little longer than that, then deleted.
PROCESSED_UPDATES_DAYS = 3


async def purge_expired(ctx: ServiceContext, region_id: str, batches: int = 50) -> int:
    """Purge cases closed longer ago than the region keeps data; returns the cases purged.

    What stays is anonymous: region, kind, quarantine dates and the number of entries.
    """
    region = ctx.regions.require(region_id)
    now = ctx.clock.now()
    cutoff = now - timedelta(days=region.retention_days)
    purged = 0
    for _ in range(batches):

        async def batch(conn: asyncpg.Connection) -> int:
            ids = await case_admin.due_for_purge(conn, region.id, cutoff, BATCH)
            if ids:
                await case_admin.purge(conn, region.id, ids, now)
            return len(ids)

        done = await ctx.db.transaction(batch)
        purged += done
        if done < BATCH:
            break
    await purge_delivery_records(ctx, region.id, batches)
    if purged:
        log.info(
            "region %s: %d closed cases purged after %d days",
            region.id,
            purged,
            region.retention_days,
        )
    return purged


async def purge_delivery_records(ctx: ServiceContext, region_id: str, batches: int = 50) -> int:
    """Delete the region's finished outbox rows after ``OUTBOX_DAYS``, and (in every region's
    sweep: the deletes are idempotent and indexed) the rows of no region and the processed
    updates after ``PROCESSED_UPDATES_DAYS``. Returns the rows deleted."""
    now = ctx.clock.now()
    messages_before = now - timedelta(days=OUTBOX_DAYS)
    updates_before = now - timedelta(days=PROCESSED_UPDATES_DAYS)
    steps = [
        (store.purge_finished_outbox, region_id, messages_before),
        (store.purge_finished_outbox, NO_REGION, messages_before),
        (store.purge_processed_updates, updates_before),
    ]
    deleted = 0
    for purge, *args in steps:
        for _ in range(batches):
            done = await ctx.db.transaction(purge, *args, ROW_BATCH)
            deleted += done
            if done < ROW_BATCH:
                break
    return deleted
