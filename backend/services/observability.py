"""Gauges that describe the database, refreshed periodically for /metrics."""

from __future__ import annotations

import asyncpg

from backend import metrics
from backend.services.context import ServiceContext
from backend.storage import entry_checks


async def refresh_gauges(ctx: ServiceContext) -> None:
    async def read(conn: asyncpg.Connection) -> tuple[list, list, int]:
        depth = await conn.fetch(
            """
            SELECT priority, count(*) AS n FROM outbox
            WHERE sent_at IS NULL AND failed_at IS NULL GROUP BY priority
            """
        )
        alerts = await conn.fetch(
            """
            SELECT region, severity, count(*) AS n FROM escalations
            WHERE status <> 'resolved' GROUP BY region, severity
            """
        )
        return depth, alerts, await entry_checks.pending(conn)

    depth, alerts, checks = await ctx.db.transaction(read)
    metrics.ALERT_CHECKS_PENDING.set(checks)
    for priority in range(4):
        metrics.OUTBOX_DEPTH.labels(str(priority)).set(0)
    for row in depth:
        metrics.OUTBOX_DEPTH.labels(str(row["priority"])).set(row["n"])
    metrics.OPEN_ALERTS.clear()
    for row in alerts:
        metrics.OPEN_ALERTS.labels(row["region"], row["severity"]).set(row["n"])
