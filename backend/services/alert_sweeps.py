"""The region's scheduled alert sweeps: people who stopped reporting, and urgent alerts
nobody claimed in time (the rules for answers are applied by services/alert_checks.py)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from backend.domain.rules import non_reporting_since
from backend.services.context import ServiceContext
from backend.services.escalations import post, raise_and_post
from backend.storage import cases as case_store
from backend.storage import escalations as store

MAX_REPOSTS = 3


async def check_silence(ctx: ServiceContext, region_id: str) -> int:
    """The non-reporting rule, for the region's scheduler: one alert per silent case."""
    region = ctx.regions.require(region_id)
    now = ctx.clock.now()
    limit = now - timedelta(hours=region.rules.non_reporting_hours)

    async def sweep(conn: asyncpg.Connection) -> int:
        raised = 0
        for case_id, last_activity in await store.silent_cases(conn, region.id, limit):
            finding = non_reporting_since(region.rules, last_activity, now)
            case = await case_store.get_case(conn, [region.id], case_id)
            if finding and case:
                await raise_and_post(ctx, conn, region, case, finding, now)
                await case_store.set_silence_alerted(conn, case.region, case.id, True)
                raised += 1
        return raised

    return await ctx.db.transaction(sweep)


async def repost_unclaimed(ctx: ServiceContext, region_id: str) -> int:
    """Urgent alerts nobody claimed in time are posted again (and to the fallback chat)."""
    region = ctx.regions.require(region_id)
    cutoff = ctx.clock.now() - timedelta(minutes=region.rules.repost_urgent_minutes)

    async def sweep(conn: asyncpg.Connection) -> int:
        waiting = await store.unclaimed_urgent(conn, region.id, cutoff, MAX_REPOSTS)
        # Two urgent alerts in one message: the message is posted again once.
        posts = dict.fromkeys((e.case_id, e.post_id) for e in waiting)
        for case_id, post_id in posts:
            await post(ctx, conn, region, case_id, post_id, repost=True)
        return len(posts)

    return await ctx.db.transaction(sweep)
