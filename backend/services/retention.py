"""Deleting diary data after each region's retention period, in batches."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

from backend.services.context import ServiceContext
from backend.storage import case_admin

log = logging.getLogger(__name__)

BATCH = 200  # cases per transaction: a long purge never holds locks for long


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
    if purged:
        log.info(
            "region %s: %d closed cases purged after %d days",
            region.id,
            purged,
            region.retention_days,
        )
    return purged
