"""The alert checker (services/alert_checks.py): an answer queues only an entry that can raise
or end an alert; the checker raises what the rules say, once, and gives up on an entry whose
check keeps failing without holding the others back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from backend.domain.cases import Case, NewCase
from backend.domain.questionnaire import Answer
from backend.services import alert_checks, escalations
from backend.services.context import ServiceContext
from backend.storage import cases as case_store
from backend.storage import entries as entry_store

WELL = Answer(feeling_well=True)
FEVER = Answer(feeling_well=False, temperature_c=Decimal("39.5"), trend="same")


async def answered(ctx: ServiceContext, chat: int, answer: Answer) -> tuple[Case, UUID, bool]:
    """A contact in de-koeln answers a prompt: the entry is stored and, maybe, queued."""
    today = ctx.clock.now().date()

    async def store(conn) -> tuple[Case, UUID, bool]:
        new = NewCase(
            "de-koeln", "contact", today - timedelta(days=2), today + timedelta(days=9), "en"
        )
        created = await case_store.insert_case(conn, new, created_by=None)
        case = await case_store.bind_chat(conn, created.region, created.id, chat, ctx.clock.now())
        assert case is not None
        entry_id = await entry_store.save_entry(
            conn, case.region, case.id, uuid4(), today, answer, ctx.clock.now()
        )
        region = ctx.regions.require(case.region)
        queued = await alert_checks.queue_if_needed(conn, region, case, entry_id, today, answer)
        return case, entry_id, queued

    return await ctx.db.transaction(store)


async def alerts_of(ctx: ServiceContext, case: Case) -> list[str]:
    rows = await ctx.db.fetch(
        "SELECT rule FROM escalations WHERE region = $1 AND case_id = $2 ORDER BY rule",
        case.region,
        case.id,
    )
    return [row["rule"] for row in rows]


async def queued(ctx: ServiceContext, entry_id: UUID) -> bool:
    rows = await ctx.db.fetch(
        "SELECT 1 FROM entry_checks WHERE entry_id = $1 AND given_up_at IS NULL", entry_id
    )
    return bool(rows)


async def test_only_what_can_alert_is_queued_and_it_is_checked_once(ctx: ServiceContext) -> None:
    _, well_entry, well_queued = await answered(ctx, 6_100_001, WELL)
    case, fever_entry, fever_queued = await answered(ctx, 6_100_002, FEVER)
    assert (well_queued, fever_queued) == (False, True)
    assert not await queued(ctx, well_entry)
    while await alert_checks.check_queued(ctx):
        pass
    assert await alerts_of(ctx, case) == ["temperature"]
    assert not await queued(ctx, fever_entry)
    assert await alert_checks.check_queued(ctx) == 0  # nothing left, nothing twice
    assert await alerts_of(ctx, case) == ["temperature"]


async def test_a_silent_case_queues_even_a_well_answer(ctx: ServiceContext) -> None:
    case, _, _ = await answered(ctx, 6_100_003, FEVER)
    await ctx.db.transaction(case_store.set_silence_alerted, case.region, case.id, True)
    case = await ctx.db.transaction(case_store.get_case, [case.region], case.id)
    region = ctx.regions.require(case.region)
    today = ctx.clock.now().date()

    async def answer_well(conn) -> bool:
        entry_id = await entry_store.save_entry(
            conn, case.region, case.id, uuid4(), today, WELL, ctx.clock.now()
        )
        return await alert_checks.queue_if_needed(conn, region, case, entry_id, today, WELL)

    assert await ctx.db.transaction(answer_well)
    while await alert_checks.check_queued(ctx):
        pass
    case = await ctx.db.transaction(case_store.get_case, [case.region], case.id)
    assert case.silence_alerted is False  # looked once, cleared


async def test_an_entry_whose_check_keeps_failing_is_given_up_alone(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    while await alert_checks.check_queued(ctx):  # what earlier tests left
        pass
    poison_case, poison_entry, _ = await answered(ctx, 6_100_004, FEVER)
    good_case, good_entry, _ = await answered(ctx, 6_100_005, FEVER)
    on_entry: Callable[..., Awaitable] = escalations.on_entry

    async def failing(ctx, conn, case, entry_id, *args):  # noqa: ANN001, ANN202
        if entry_id == poison_entry:
            raise ValueError("a bug in the rules")
        return await on_entry(ctx, conn, case, entry_id, *args)

    monkeypatch.setattr(escalations, "on_entry", failing)
    for _ in range(alert_checks.MAX_ATTEMPTS):
        await alert_checks.check_queued(ctx)
    assert await alerts_of(ctx, good_case) == ["temperature"]  # not held back
    assert await alerts_of(ctx, poison_case) == []
    assert not await queued(ctx, good_entry)
    assert not await queued(ctx, poison_entry)  # given up after MAX_ATTEMPTS ...
    rows = await ctx.db.fetch(
        "SELECT attempts FROM entry_checks WHERE entry_id = $1 AND given_up_at IS NOT NULL",
        poison_entry,
    )
    assert [row["attempts"] for row in rows] == [alert_checks.MAX_ATTEMPTS]  # ... and kept
    assert await alert_checks.check_queued(ctx) == 0
