"""Benchmark 5: alert latency with the sender otherwise idle (issue: escalations).

A contact's diary entry with 39.5 °C is stored the way the questionnaire stores it: the entry
queued for the alert rules in its transaction; the alert checker (beside the sender, as in
``serve``) raises the alert and its outbox message. The clock starts when the entry's
transaction has committed and stops when the alert reaches the authority group on the
loopback Bot API server (in its own process, enforcing Telegram's limits). 100 alerts, one
region's group after another, spaced so that no group exceeds Telegram's 20 messages a minute:
what is measured is the service, not the pacing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

from backend.config.regions import load_regions
from backend.config.settings import DEFAULT_REGIONS_FILE, Settings
from backend.domain.cases import NewCase
from backend.domain.clock import SystemClock
from backend.domain.questionnaire import Answer
from backend.i18n import catalogs
from backend.services import alert_checks
from backend.services.alert_checks import AlertChecker
from backend.services.context import RegionDirectory, ServiceContext, Signal
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import groups as group_store
from bot.render import Renderer
from bot.sender import OutboxSender
from tests.bench.bench_sender import bot_for, sandbox
from tests.bench.common import drop_database, fresh_database, latency_summary
from tests.bench.sandbox_process import FIRST_GROUP

SPACING = 0.8  # seconds between alerts: each of the 4 groups gets one every 3.2 s (> 3 s)


async def alert_latency_idle(alerts: int = 100, wake: bool = True) -> dict:
    """``wake=False``: the entry is stored by another instance (a webhook receiver), so the
    checker learns of it only by polling (every 0.5 s, the service's default), and the sender
    of the alert at once (the checker runs beside it)."""
    db = await fresh_database()
    try:
        regions = load_regions(DEFAULT_REGIONS_FILE)
        shipped = catalogs()
        ctx = ServiceContext(
            db=db,
            regions=RegionDirectory(regions),
            clock=SystemClock(),
            languages=shipped.languages,
            outbox=Signal(),
            send_rate=30,
        )
        region_ids = sorted(regions)
        groups = {region: FIRST_GROUP - n for n, region in enumerate(region_ids)}

        async def prepare(conn) -> list:
            for region, chat_id in groups.items():
                await group_store.bind_group(conn, region, chat_id)
            cases = []
            today = ctx.clock.now().date()
            for number in range(alerts):
                region = region_ids[number % len(region_ids)]
                new = NewCase(region, "contact", today, today, regions[region].default_language)
                case = await case_store.insert_case(conn, new, created_by=None)
                await case_store.bind_chat(
                    conn, region, case.id, 3_000_000 + number, ctx.clock.now()
                )
                cases.append(await case_store.get_case(conn, [region], case.id))
            return cases

        cases = await db.transaction(prepare)
        async with sandbox(users=0, groups=len(groups), limits=True) as box, bot_for(box) as bot:
            sender = OutboxSender(
                db,
                bot,
                Renderer(shipped, ctx.clock, ctx.regions),
                ctx.outbox,  # the checker beside the sender wakes it
                rate=30,
                poll_seconds=Settings().sender_poll_seconds,
            )
            task = asyncio.create_task(sender.run())
            # The alert checker beside the sender, as in `serve`: woken by this process's
            # answers, else looking every 0.5 s (the service's default).
            checker = AlertChecker(ctx, poll_seconds=Settings().sender_poll_seconds)
            checking = asyncio.create_task(checker.run())
            latencies = []
            fever = Answer(feeling_well=False, temperature_c=Decimal("39.5"))
            for case in cases:
                began = time.monotonic()

                async def store(conn, case=case) -> bool:
                    today = ctx.clock.now().date()
                    entry_id = await entry_store.save_entry(
                        conn, case.region, case.id, uuid.uuid4(), today, fever, ctx.clock.now()
                    )
                    region = ctx.regions.require(case.region)
                    return await alert_checks.queue_if_needed(
                        conn, region, case, entry_id, today, fever
                    )

                arrived_before = len(box.timeline)
                queued = await db.transaction(store)
                committed = time.time()
                assert queued
                if wake:
                    ctx.checks.notify()  # what the bot does after an answer it queued
                async with box.arrived:
                    await asyncio.wait_for(
                        box.arrived.wait_for(lambda n=arrived_before: len(box.timeline) > n), 30
                    )
                chat_id, at = box.timeline[arrived_before]
                assert chat_id == groups[case.region]
                latencies.append(at - committed)
                await asyncio.sleep(max(0.0, SPACING - (time.monotonic() - began)))
            sender.stop()
            checker.stop()
            await task
            await checking
        return {
            **latency_summary(latencies),
            "429s": sender.counts["429"],
            "met": sender.counts["429"] == 0 and len(latencies) == alerts,
        }
    finally:
        await drop_database(db)


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(alert_latency_idle()), indent=2))
    print(json.dumps(asyncio.run(alert_latency_idle(wake=False)), indent=2))
