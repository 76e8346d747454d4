"""Regional schedules: prompt times in each region's zone across DST, rounds once per slot
(late within the grace window, never older), reminders once, closing in the daytime, and the
regions file reloaded without a restart."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from backend.config.settings import DEFAULT_REGIONS_FILE
from backend.domain.cases import NewCase
from backend.domain.clock import FixedClock
from backend.domain.regions import Region
from backend.scheduling.scheduler import RegionalScheduler
from backend.services.context import ServiceContext
from backend.services.schedule import close_finished_cases, run_due_rounds, send_reminders
from backend.storage import cases as case_store
from backend.storage import rounds as round_store
from backend.storage.database import Database

BERLIN = ZoneInfo("Europe/Berlin")
GRACE = timedelta(hours=2)
_chat_ids = iter(range(710_000, 720_000))


async def new_case(
    ctx: ServiceContext,
    region: str = "de-koeln",
    start: date = date(2026, 11, 20),
    end: date = date(2026, 12, 3),
    activated: bool = True,
) -> tuple[str, object, int]:
    """A case straight in the database (registration is tested elsewhere)."""
    chat_id = next(_chat_ids)

    async def create(conn):
        case = await case_store.insert_case(
            conn,
            NewCase(region, "contact", start, end, "en"),
            created_by=None,
        )
        if activated:
            await case_store.bind_chat(conn, region, case.id, chat_id, ctx.clock.now())
        return case

    case = await ctx.db.transaction(create)
    return region, case.id, chat_id


async def outbox_for(db: Database, chat_id: int, kind: str) -> list[dict]:
    rows = await db.fetch(
        "SELECT kind, payload, not_before FROM outbox WHERE chat_id = $1 AND kind = $2 "
        "ORDER BY created_at",
        chat_id,
        kind,
    )
    return [dict(r) for r in rows]


async def case_status(db: Database, case_id) -> str:
    return (await db.fetch("SELECT status FROM cases WHERE id = $1", case_id))[0]["status"]


def at_berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


def test_recent_slots_are_local_and_bounded() -> None:
    region = Region("x", "X", "Europe/Berlin", ("de",), (time(8), time(18)))
    now = at_berlin(date(2026, 3, 29), 9, 30)  # the morning after clocks went forward
    assert region.recent_slots(now, GRACE) == [(date(2026, 3, 29), time(8))]
    assert region.recent_slots(now, timedelta(minutes=30)) == []
    assert region.recent_slots(at_berlin(date(2026, 3, 29), 8, 0), GRACE) == [
        (date(2026, 3, 29), time(8))
    ]  # exactly at the slot
    # Shortly after midnight, yesterday's evening slot is still in a long window.
    late = at_berlin(date(2026, 10, 25), 0, 30)
    assert region.recent_slots(late, timedelta(hours=7)) == [(date(2026, 10, 24), time(18))]


def test_closing_time_is_in_the_daytime() -> None:
    evening = Region("x", "X", "Europe/Kyiv", ("uk",), (time(9), time(20)))
    assert evening.closing_time == time(19, 30)  # due early enough to go out before 20:00
    due = datetime.combine(date(2026, 12, 1), evening.closing_time, tzinfo=evening.zone)
    assert evening.may_send_closing(due)
    assert not evening.may_send_closing(due.replace(hour=20))
    night = Region("n", "N", "Europe/Berlin", ("de",), (time(9), time(23, 30)))
    assert night.closing_time == time(19, 30)
    morning = Region("y", "Y", "Europe/Berlin", ("de",), (time(6, 30),))
    assert morning.closing_time == time(8, 0)
    usual = Region("z", "Z", "Europe/Berlin", ("de",), (time(8), time(18)))
    assert usual.closing_time == time(19, 0)


async def test_prompt_jobs_fire_at_local_times(ctx: ServiceContext) -> None:
    scheduler = RegionalScheduler(ctx, grace=GRACE, sweep_seconds=3600)
    scheduler.start()
    try:
        jobs = dict(scheduler.jobs())
    finally:
        scheduler.shutdown()
    berlin = jobs["prompt:de-berlin-mitte:08:00"]
    kyiv = jobs["prompt:ua-kyiv:09:00"]
    assert berlin.astimezone(BERLIN).time() == time(8, 0)
    assert kyiv.astimezone(ZoneInfo("Europe/Kyiv")).time() == time(9, 0)
    assert berlin.utcoffset() != kyiv.utcoffset() or berlin.tzinfo != kyiv.tzinfo
    assert {"sweep:de-koeln", "sweep:ua-kyiv", "prune-updates"} <= set(jobs)


async def test_a_round_is_created_once_and_late_within_grace(
    ctx: ServiceContext, clock: FixedClock, db: Database
) -> None:
    _, _, chat = await new_case(ctx)
    clock.set(at_berlin(date(2026, 11, 26), 10, 45))  # Köln's 09:00 round was missed
    first, second = await asyncio.gather(
        run_due_rounds(ctx, "de-koeln", GRACE), run_due_rounds(ctx, "de-koeln", GRACE)
    )  # two instances at once
    created = [r for r in first + second if r.round_id]
    assert len(created) == 1 and created[0].prompts == 1
    assert len(await outbox_for(db, chat, "prompt")) == 1
    rows = await db.fetch(
        "SELECT local_date, slot FROM rounds WHERE region = 'de-koeln' AND origin = 'schedule'"
    )
    assert [(r["local_date"], r["slot"]) for r in rows] == [(date(2026, 11, 26), "09:00")]

    clock.set(at_berlin(date(2026, 11, 27), 11, 30))  # the next day's round, missed by 2.5 h
    assert await run_due_rounds(ctx, "de-koeln", GRACE) == []


async def test_big_rounds_are_spread_at_the_sending_rate(
    ctx: ServiceContext, db: Database, clock: FixedClock
) -> None:
    chats = [(await new_case(ctx, "de-muenchen"))[2] for _ in range(5)]
    clock.set(at_berlin(date(2026, 11, 26), 8, 31))
    await run_due_rounds(ctx, "de-muenchen", GRACE)
    times = sorted([(await outbox_for(db, chat, "prompt"))[0]["not_before"] for chat in chats])
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(abs(gap - 1 / ctx.send_rate) < 0.005 for gap in gaps), gaps


async def test_one_reminder_and_never_two_within_12_hours(
    ctx: ServiceContext, clock: FixedClock, db: Database
) -> None:
    _, _, quiet = await new_case(ctx, "ua-kyiv", date(2026, 11, 20), date(2026, 12, 3))
    _, answered_case, answered = await new_case(
        ctx, "ua-kyiv", date(2026, 11, 20), date(2026, 12, 3)
    )
    kyiv = ZoneInfo("Europe/Kyiv")
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=kyiv))
    await run_due_rounds(ctx, "ua-kyiv", GRACE)
    await db.fetch("UPDATE prompts SET answered_at = now() WHERE case_id = $1", answered_case)
    clock.set(datetime(2026, 11, 26, 11, 59, tzinfo=kyiv))  # 2:59 after the round
    assert await send_reminders(ctx, "ua-kyiv") == 0
    # The region's 3 hours after each prompt's turn (turns are 1/30 s apart).
    clock.set(datetime(2026, 11, 26, 12, 0, 1, tzinfo=kyiv))
    assert await send_reminders(ctx, "ua-kyiv") == 1
    assert await send_reminders(ctx, "ua-kyiv") == 0  # once
    assert len(await outbox_for(db, quiet, "reminder")) == 1
    assert await outbox_for(db, answered, "reminder") == []
    # The 20:00 round goes unanswered too, but the last reminder was only 11 hours ago.
    clock.set(datetime(2026, 11, 26, 20, 0, tzinfo=kyiv))
    await run_due_rounds(ctx, "ua-kyiv", GRACE)
    clock.set(datetime(2026, 11, 26, 23, 0, 1, tzinfo=kyiv))
    assert await send_reminders(ctx, "ua-kyiv") == 1  # only the one not reminded today
    assert len(await outbox_for(db, quiet, "reminder")) == 1
    assert len(await outbox_for(db, answered, "reminder")) == 1


async def test_reminders_count_from_each_prompts_turn_in_a_spread_round(
    ctx: ServiceContext, clock: FixedClock, db: Database
) -> None:
    """A round too big to send at once: nobody is reminded while their prompt is queued."""
    await db.fetch("UPDATE cases SET status = 'closed' WHERE region = 'ua-kyiv'")  # others'
    chats = [
        (await new_case(ctx, "ua-kyiv", date(2026, 11, 20), date(2026, 12, 3)))[2] for _ in range(3)
    ]
    kyiv = ZoneInfo("Europe/Kyiv")
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=kyiv))

    async def huge_round(conn) -> int:  # as if 30/s had to carry a round of 216,000
        round_id = await round_store.insert_round(
            conn, "ua-kyiv", date(2026, 11, 26), "09:00-spread-test", "schedule", clock.now()
        )
        return await round_store.expand_round(
            conn, "ua-kyiv", round_id, date(2026, 11, 26), timedelta(hours=2)
        )

    assert await db.transaction(huge_round) == 3
    reminded = []
    for hours in (3, 5, 7):  # 3 hours after the first, second and third turn
        clock.set(datetime(2026, 11, 26, 9 + hours, 0, 1, tzinfo=kyiv))
        reminded.append(await send_reminders(ctx, "ua-kyiv"))
    assert reminded == [1, 1, 1]
    assert [len(await outbox_for(db, chat, "reminder")) for chat in chats] == [1, 1, 1]
    rows = await db.fetch("SELECT reminded_at FROM rounds WHERE slot = '09:00-spread-test'")
    assert rows[0]["reminded_at"] is not None  # done: its last turn has passed


async def test_cases_close_on_their_last_day_in_the_daytime(
    ctx: ServiceContext, clock: FixedClock, db: Database
) -> None:
    last_day = date(2026, 11, 26)
    _, ending, ending_chat = await new_case(ctx, "de-berlin-mitte", date(2026, 11, 13), last_day)
    _, overdue, overdue_chat = await new_case(
        ctx, "de-berlin-mitte", date(2026, 11, 1), date(2026, 11, 14)
    )
    _, never, _ = await new_case(
        ctx, "de-berlin-mitte", date(2026, 11, 1), date(2026, 11, 14), activated=False
    )
    _, going_on, _ = await new_case(ctx, "de-berlin-mitte", date(2026, 11, 20), date(2026, 12, 3))

    clock.set(at_berlin(last_day, 7, 59))  # before 08:00: nobody is woken
    assert await close_finished_cases(ctx, "de-berlin-mitte") == 0
    clock.set(at_berlin(last_day, 8, 0))  # daytime: the overdue ones close, today's not yet
    assert await close_finished_cases(ctx, "de-berlin-mitte") >= 2
    assert await case_status(db, overdue) == "closed" and await case_status(db, never) == "closed"
    assert await case_status(db, ending) == "active"
    clock.set(at_berlin(last_day, 19, 0))  # an hour after the last prompt (18:00)
    assert await close_finished_cases(ctx, "de-berlin-mitte") >= 1
    assert await case_status(db, ending) == "closed"
    assert await case_status(db, going_on) == "active"
    for chat in (ending_chat, overdue_chat):
        (message,) = await outbox_for(db, chat, "closing")
    clock.set(at_berlin(last_day + timedelta(days=1), 8, 0))
    await run_due_rounds(ctx, "de-berlin-mitte", GRACE)  # no prompts after the end
    assert await outbox_for(db, ending_chat, "prompt") == []


async def test_the_regions_file_reloads_without_a_restart(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    regions_file = tmp_path / "regions.toml"
    shutil.copy(DEFAULT_REGIONS_FILE, regions_file)
    scheduler = RegionalScheduler(ctx, grace=GRACE, regions_file=regions_file, sweep_seconds=3600)
    scheduler.start()
    try:
        text = regions_file.read_text().replace(
            'prompt_times = ["09:00"]', 'prompt_times = ["10:15"]'
        )
        regions_file.write_text(text)
        os.utime(regions_file, (1, 2))  # a different mtime even within the same second
        assert await scheduler.reload_if_changed()
        jobs = dict(scheduler.jobs())
        assert "prompt:de-koeln:10:15" in jobs and "prompt:de-koeln:09:00" not in jobs
        assert ctx.regions.require("de-koeln").prompt_times == (time(10, 15),)

        # A broken file is refused and the running configuration stays.
        regions_file.write_text("[[regions]]\nid = 'broken'\n")
        os.utime(regions_file, (3, 4))
        assert not await scheduler.reload_if_changed()
        assert ctx.regions.get("de-koeln") is not None

        # SIGHUP reloads at once.
        regions_file.write_text(text.replace('"10:15"', '"11:45"'))
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):  # turns of the event loop until the signal handler has run
            if scheduler.reloading:
                break
            await asyncio.sleep(0)
        assert scheduler.reloading is not None and await scheduler.reloading
        assert "prompt:de-koeln:11:45" in dict(scheduler.jobs())
    finally:
        scheduler.shutdown()


async def test_instances_without_the_scheduler_role_follow_the_regions_file(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """An API-only instance schedules nothing but still sees a changed regions file (its
    languages, groups and rules decide what the API and the bot do)."""
    regions_file = tmp_path / "regions.toml"
    shutil.copy(DEFAULT_REGIONS_FILE, regions_file)
    watcher = RegionalScheduler(ctx, grace=GRACE, regions_file=regions_file, regional=False)
    watcher.start()
    try:
        assert [job for job, _ in watcher.jobs()] == ["reload-regions"]
        regions_file.write_text(
            regions_file.read_text().replace(
                'name = "Gesundheitsamt der Stadt Köln"', 'name = "GA Köln"'
            )
        )
        os.utime(regions_file, (5, 6))
        assert await watcher.reload_if_changed()
        assert ctx.regions.require("de-koeln").name == "GA Köln"
        assert [job for job, _ in watcher.jobs()] == ["reload-regions"]
    finally:
        watcher.shutdown()
