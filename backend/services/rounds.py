"""Prompt rounds: the daily question to every active case of a region."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

import asyncpg

from backend import metrics
from backend.domain.errors import Conflict
from backend.domain.staff import StaffMember
from backend.services import audit
from backend.services.context import ServiceContext
from backend.storage import rounds as round_store


@dataclass(frozen=True)
class RoundResult:
    round_id: UUID | None  # None when this (region, date, slot) round already existed
    prompts: int


async def start_round(
    ctx: ServiceContext,
    region_id: str,
    origin: str,
    slot: str | None = None,
    local_date: date | None = None,
    staff: StaffMember | None = None,
) -> RoundResult:
    """Create a round and its prompts in one transaction, then wake the sender.

    Scheduled rounds name their slot ("09:00") and local date, so a double fire or a second
    instance creates them once. A round started by staff (``staff``) belongs to the current
    slot, once (Conflict for a second), asks only who has not answered that slot yet, and is
    in the audit log.
    """
    region = ctx.regions.require(region_id)
    now = ctx.clock.now()
    local_date = local_date or region.local_date(now)
    if staff is not None:
        slot = f"staff {region.current_slot(now)}"
    slot = slot or f"{origin}-{uuid.uuid4().hex[:12]}"
    spacing = timedelta(seconds=1 / ctx.send_rate)

    async def create(conn: asyncpg.Connection) -> RoundResult:
        round_id = await round_store.insert_round(conn, region.id, local_date, slot, origin, now)
        if round_id is None:
            if staff is not None:
                raise Conflict(
                    f"a round was sent for this slot already ({slot[6:]}); reminders follow "
                    "by themselves."
                )
            return RoundResult(round_id=None, prompts=0)
        # Staff ask again who has not answered yet: not who answered the current slot.
        since = None
        if staff is not None:
            since = await round_store.slot_began(conn, region.id, local_date)
        count = await round_store.expand_round(
            conn, region.id, round_id, local_date, spacing, answered_since=since
        )
        if staff is not None:
            await audit.record(
                conn, staff, "round.start", region.id, now, round=str(round_id), prompts=count
            )
        return RoundResult(round_id=round_id, prompts=count)

    started = time.perf_counter()
    # Keyed by (region, date, slot), the slot chosen above: a re-run after a failover whose
    # first COMMIT happened finds the round and sends nothing twice.
    result = await ctx.db.keyed_transaction(create)
    if result.round_id:
        metrics.ROUND_SECONDS.labels(region.id).observe(time.perf_counter() - started)
        metrics.ROUND_PROMPTS.labels(region.id).inc(result.prompts)
    if result.prompts:
        ctx.outbox.notify()
    return result
