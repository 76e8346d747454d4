"""What the regional schedules do: rounds on time (or late within a grace window), reminders,
and the end of monitoring. Each function is idempotent, so two instances, a double fire or a
retry after an error do no harm."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

from backend.domain.messages import Kind, Priority
from backend.services import case_news
from backend.services.context import ServiceContext
from backend.services.rounds import RoundResult, start_round
from backend.storage import cases as case_store
from backend.storage import outbox as outbox_store
from backend.storage import rounds as round_store

log = logging.getLogger(__name__)


async def run_due_rounds(
    ctx: ServiceContext, region_id: str, grace: timedelta
) -> list[RoundResult]:
    """Create every round of the region that fell due within ``grace`` and does not exist."""
    region = ctx.regions.require(region_id)
    results = []
    for local_date, at in region.recent_slots(ctx.clock.now(), grace):
        result = await start_round(
            ctx, region.id, "schedule", slot=at.strftime("%H:%M"), local_date=local_date
        )
        if result.round_id:
            log.info(
                "round %s %s %s: %d prompts",
                region.id,
                local_date,
                at.strftime("%H:%M"),
                result.prompts,
            )
        results.append(result)
    return results


async def send_reminders(ctx: ServiceContext, region_id: str) -> int:
    """Remind people who have not answered a round after the region's reminder delay."""
    region = ctx.regions.require(region_id)
    now = ctx.clock.now()
    round_ids = await ctx.db.transaction(
        round_store.rounds_due_for_reminders, region.id, region.reminder_after, now
    )
    sent = 0
    for round_id in round_ids:
        sent += await ctx.db.transaction(
            round_store.enqueue_reminders, region.id, round_id, now, region.reminder_after
        )
    if sent:
        ctx.outbox.notify()
    return sent


async def close_finished_cases(ctx: ServiceContext, region_id: str) -> int:
    """Close cases after their last quarantine day, with a closing message in the daytime."""
    region = ctx.regions.require(region_id)
    now = ctx.clock.now()
    if not region.may_send_closing(now):
        return 0  # wait for the morning rather than wake anyone
    local = now.astimezone(region.zone)

    async def close(conn: asyncpg.Connection) -> int:
        closed = await case_store.close_finished(
            conn,
            region.id,
            local.date(),
            local.time() >= region.closing_time,
            now,
            int(Priority.PROMPT),
            Kind.CLOSING.value,
            region.emergency_number,
        )
        # The last day's questionnaire, if still open, leaves the screen with the case.
        event = now.date().isoformat()
        cleared = []
        for case in closed:
            if case_news.reachable(case):
                cleared += await case_news.take_prompt_off_screen(conn, case, event)
        await outbox_store.enqueue(conn, cleared)  # one statement for them all
        return len(closed)

    closed = await ctx.db.transaction(close)
    if closed:
        log.info("region %s: %d cases closed at the end of their quarantine", region.id, closed)
        ctx.outbox.notify()
    return closed
