"""One clock per question (backend/domain/clock.py): each decision is taken on the clock that
wrote the moment it compares with, and moving the other clock changes nothing."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from backend.domain.clock import FixedClock
from backend.domain.messages import Kind, Outgoing, Priority
from backend.services.context import ServiceContext
from backend.services.retention import OUTBOX_DAYS, purge_delivery_records
from backend.services.staff import authenticate, create_staff
from backend.storage import groups as group_store
from backend.storage import outbox as outbox_store
from backend.storage.database import Database

REGION = "ua-kyiv"


async def test_the_database_and_this_process_read_one_wall_clock(db: Database) -> None:
    """What ``make test-dates`` relies on: the embedded database runs on the faked clock too
    (a database left on the real one would be a year apart). And the shift took effect."""
    rows = await db.fetch("SELECT clock_timestamp() AS at")
    assert abs(rows[0]["at"] - datetime.now(UTC)) < timedelta(seconds=30)
    faked_start = os.environ.get("TEST_FAKED_START")
    if faked_start:
        start = datetime.fromisoformat(faked_start)
        assert start - timedelta(minutes=1) <= datetime.now(UTC) <= start + timedelta(hours=2)


async def test_delivery_records_age_on_the_database_clock(
    ctx: ServiceContext, db: Database, clock: FixedClock
) -> None:
    """The sender stamps sent and failed messages with the database's now(): their retention
    is measured on it, wherever the service clock stands."""
    keep = timedelta(days=OUTBOX_DAYS)
    ages = {"old": keep + timedelta(minutes=1), "young": keep - timedelta(minutes=1)}
    messages = [
        Outgoing(
            chat_id=4_800_000 + number,
            kind=Kind.BROADCAST,
            language="en",
            priority=Priority.BROADCAST,
            dedup_key=f"clocks:{name}:{state}",
            payload={"text": "Testzentrum"},
            region=REGION,
        )
        for number, (name, state) in enumerate(
            (name, state) for name in ages for state in ("sent", "failed", "queued")
        )
    ]
    await db.transaction(outbox_store.enqueue, messages)
    for name, age in ages.items():
        await db.fetch(
            """
            UPDATE outbox SET created_at = now() - $2::INTERVAL,
                              sent_at = CASE WHEN dedup_key LIKE '%:sent' THEN now() - $2 END,
                              failed_at = CASE WHEN dedup_key LIKE '%:failed' THEN now() - $2 END
            WHERE region = $1 AND dedup_key LIKE 'clocks:' || $3 || ':%'
            """,
            REGION,
            age,
            name,
        )

    clock.advance(timedelta(days=-400))  # the service clock has no say, far back or ahead
    assert await purge_delivery_records(ctx, REGION) == 2
    clock.advance(timedelta(days=800))
    assert await purge_delivery_records(ctx, REGION) == 0
    rows = await db.fetch(
        "SELECT dedup_key FROM outbox WHERE region = $1 AND dedup_key LIKE 'clocks:%' "
        "ORDER BY dedup_key",
        REGION,
    )
    assert [row["dedup_key"] for row in rows] == [
        "clocks:old:queued",  # never finished: not a delivery record yet
        "clocks:young:failed",
        "clocks:young:queued",
        "clocks:young:sent",
    ]


async def test_a_group_broadcast_preview_lapses_an_hour_later_on_the_service_clock(
    ctx: ServiceContext, db: Database, clock: FixedClock
) -> None:
    staff = await authenticate(ctx, (await create_staff(ctx, "Olena", "staff", [REGION])).token)
    assert staff is not None
    fresh = await db.transaction(
        group_store.insert_draft, REGION, staff.id, "Testzentrum", clock.now()
    )
    stale = await db.transaction(
        group_store.insert_draft, REGION, staff.id, "Testzentrum", clock.now()
    )
    clock.advance(timedelta(minutes=59))
    assert await db.transaction(group_store.decide_draft, fresh, REGION, clock.now())
    clock.advance(timedelta(minutes=1))
    assert await db.transaction(group_store.decide_draft, stale, REGION, clock.now()) is None
