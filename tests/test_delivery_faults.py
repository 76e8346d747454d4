"""The delivery machinery under faults: a sender killed mid-broadcast, every kind of Bot API
error, a database restart during a round, and two instances sharing one sender lease."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient
from telegram import Bot

from backend.domain.cases import NewCase
from backend.domain.clock import FixedClock
from backend.domain.messages import Kind, Outgoing, Priority
from backend.i18n import catalogs
from backend.server import RUNNING
from backend.services.broadcasts import create_broadcast
from backend.services.context import ServiceContext, Signal
from backend.services.staff import authenticate, create_staff
from backend.storage import cases as case_store
from backend.storage import outbox as outbox_store
from backend.storage.database import Database
from backend.storage.outbox import BatchResult
from bot.render import Renderer
from bot.sandbox import SandboxBotApi
from bot.sender import MAX_ATTEMPTS, OutboxSender
from tests.conftest import BOT_TOKEN
from tests.rounds import new_round

REGION = "de-muenchen"  # default language de


@pytest.fixture(autouse=True)
async def clean(db: Database) -> AsyncIterator[None]:
    async with db.pool.acquire() as conn:
        await conn.execute("DELETE FROM outbox")
        await conn.execute("DELETE FROM leases")
        await conn.execute("UPDATE cases SET status = 'closed' WHERE region = $1", REGION)
    yield


async def monitored(ctx: ServiceContext, bot_api: SandboxBotApi, chats: range) -> None:
    day = ctx.clock.now().date()

    async def create(conn):
        for chat_id in chats:
            case = await case_store.insert_case(
                conn, NewCase(REGION, "contact", day, day, "de"), created_by=None
            )
            await case_store.bind_chat(conn, REGION, case.id, chat_id, ctx.clock.now())

    await ctx.db.transaction(create)
    for chat_id in chats:
        bot_api.user(chat_id, f"P{chat_id}", "de")


async def broadcast(ctx: ServiceContext, text: str = "Hinweis") -> object:
    staff = await authenticate(ctx, (await create_staff(ctx, "A", "admin", [])).token)
    return await create_broadcast(ctx, staff, [REGION], {"de": text})


def sends(bot_api: SandboxBotApi, chat_id: int | None = None) -> int:
    return sum(
        1
        for method, params in bot_api.calls
        if method == "sendMessage" and (chat_id is None or int(params["chat_id"]) == chat_id)
    )


def sender_for(db: Database, bot: Bot, clock: FixedClock, **options) -> OutboxSender:
    options.setdefault("rate", 1000)
    return OutboxSender(db, bot, Renderer(catalogs(), clock), Signal(), **options)


async def test_a_sender_killed_mid_broadcast_loses_nothing(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    chats = range(9_100_000, 9_100_300)
    await monitored(ctx, bot_api, chats)
    await broadcast(ctx)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        first = sender_for(db, bot, clock, batch=50, leader_ttl=timedelta(seconds=1))
        assert await first.lead()

        async def send_forever() -> None:
            while await first.send_due():
                pass

        crashing = asyncio.create_task(send_forever())
        await bot_api.state.changed.wait_for(lambda: sends(bot_api) >= 120, 10)
        crashing.cancel()  # killed mid-batch: no results written, the lease not given back
        with pytest.raises(asyncio.CancelledError):
            await crashing

        second = sender_for(db, bot, clock, batch=50, leader_ttl=timedelta(seconds=1))
        running = asyncio.create_task(second.run())
        await asyncio.wait_for(second.drained(), 30)  # takes over once the lease lapses
        second.stop()
        await running
    for chat_id in chats:
        assert sends(bot_api, chat_id) >= 1, chat_id
    assert sends(bot_api) - len(chats) <= 50  # duplicates: at most the one claimed batch
    rows = await db.fetch("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
    assert rows[0]["n"] == 0


async def test_every_bot_api_error_is_handled(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    chats = range(9_200_000, 9_200_012)
    await monitored(ctx, bot_api, chats)
    blocked, bad, flaky = chats[0], chats[1], chats[2]
    bot_api.block_bot(bot_api.user(blocked))
    bot_api.fail_next(
        "sendMessage", error_code=400, chat_id=bad, description="Bad Request: chat not found"
    )
    bot_api.fail_next("sendMessage", error_code=500, chat_id=flaky, count=2)
    # The 429 aims at a healthy chat: aimed at whichever comes first, it could land on the
    # blocked one and make it look sent twice.
    bot_api.fail_next("sendMessage", error_code=429, retry_after=1, chat_id=chats[3])
    status = await broadcast(ctx)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        sender = sender_for(db, bot, clock, backoff=lambda attempts: 0.05)
        running = asyncio.create_task(sender.run())
        await asyncio.wait_for(sender.drained(), 30)
        while (
            await db.fetch(
                "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
            )
        )[0]["n"]:
            await asyncio.wait_for(sender.drained(), 30)  # retries that were not yet due
        sender.stop()
        await running
    assert sender.counts["429"] == 1
    rows = {
        r["chat_id"]: r
        for r in await db.fetch("SELECT chat_id, sent_at, failure, attempts FROM outbox")
    }
    assert rows[blocked]["failure"] == "blocked" and rows[bad]["failure"] == "bad_request"
    assert rows[flaky]["sent_at"] and rows[flaky]["attempts"] == 3
    for chat_id in chats[3:]:
        assert rows[chat_id]["sent_at"] and len(bot_api.user(chat_id).messages) == 1
    assert sends(bot_api, blocked) == 1 and sends(bot_api, bad) == 1

    # The blocked chat is unreachable now: the next broadcast leaves it out altogether.
    again = await broadcast(ctx, "Noch ein Hinweis")
    assert again.broadcast.total == len(chats) - 1
    assert status.broadcast.total == len(chats)


async def test_two_instances_share_one_sender(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    chats = range(9_300_000, 9_300_040)
    await monitored(ctx, bot_api, chats)
    await broadcast(ctx)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        one = sender_for(db, bot, clock, batch=5, leader_ttl=timedelta(seconds=1))
        two = sender_for(db, bot, clock, batch=5, leader_ttl=timedelta(seconds=1))
        tasks = [asyncio.create_task(s.run()) for s in (one, two)]
        await bot_api.state.changed.wait_for(lambda: sends(bot_api) >= 10, 10)
        assert one.leading != two.leading  # exactly one sends
        leader, standby = (one, two) if one.leading else (two, one)
        leader.stop()  # a clean stop gives the lease back: the standby carries on at once
        await tasks[(one, two).index(leader)]
        await asyncio.wait_for(standby.drained(), 30)
        assert standby.leading and leader.counts["sent"] > 0 and standby.counts["sent"] > 0
        standby.stop()
        await asyncio.gather(*tasks)
    assert sends(bot_api) == len(chats)  # nobody sent anything twice


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="needs the embedded server")
async def test_a_database_restart_during_a_round(
    service: TestClient, ctx: ServiceContext, bot_api: SandboxBotApi, server_url: str
) -> None:
    chats = range(9_400_000, 9_400_060)
    await monitored(ctx, bot_api, chats)
    admin = (await create_staff(ctx, "A", "admin", [])).token
    headers = {"Authorization": f"Bearer {admin}"}
    assert (await new_round(service, REGION)).prompts == 60
    await bot_api.state.changed.wait_for(lambda: sends(bot_api) >= 15, 10)

    await restart_database(server_url)

    # The sender finds its way back and finishes the round; nothing is lost.
    await bot_api.state.changed.wait_for(lambda: all(bot_api.user(c).messages for c in chats), 60)
    await asyncio.wait_for(service.app[RUNNING].sender.drained(), 30)
    rows = await ctx.db.fetch(
        "SELECT count(*) AS n FROM outbox WHERE kind = 'prompt' AND sent_at IS NULL"
    )
    assert rows[0]["n"] == 0
    assert sends(bot_api) == len(chats)  # the batch sent during the restart was recorded late
    # And the API answers again (a request during the restart got a 503, not a 500): the
    # slot's round by staff, the first, is sent.
    response = await service.post(f"/api/v1/regions/{REGION}/rounds", headers=headers)
    assert response.status == 202


async def restart_database(server_url: str) -> None:
    """Restart the embedded PostgreSQL the tests run on (pg_ctl restart, fast mode)."""
    from pgserver._commands import pg_ctl

    pgdata = Path(parse_qs(urlsplit(server_url).query)["host"][0])
    user = "pgserver" if os.geteuid() == 0 else None
    await asyncio.to_thread(pg_ctl, ["-w", "restart", "-m", "fast"], pgdata=pgdata, user=user)


async def test_a_group_that_migrated_gets_the_message_at_its_new_id(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    staff = bot_api.user(9_500_001, "Duty officer", "de")
    group = bot_api.group(-4_500_001, title="Gesundheitsamt München")
    await bot_api.add_bot_to_group(group, by=staff)
    bot_api.migrate_group(group, new_chat_id=-1_004_500_001)
    alert = Outgoing(
        chat_id=-4_500_001,
        kind=Kind.BROADCAST,
        language="de",
        priority=Priority.ALERT,
        dedup_key="alert:migrated",
        payload={"text": "Fieber 39,8"},
        region=REGION,
    )
    await db.transaction(outbox_store.enqueue, [alert])
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        sender = sender_for(db, bot, clock)
        assert await sender.lead()
        while await sender.send_due():
            pass
    migrated = bot_api.handle_for(-1_004_500_001)
    assert "Fieber 39,8" in migrated.messages[-1]["text"]
    rows = await db.fetch("SELECT new_chat_id FROM chat_migrations WHERE old_chat_id = -4500001")
    assert rows[0]["new_chat_id"] == -1_004_500_001
    rows = await db.fetch("SELECT chat_id, sent_at FROM outbox WHERE dedup_key = 'alert:migrated'")
    assert rows[0]["chat_id"] == -1_004_500_001 and rows[0]["sent_at"] is not None


async def test_dropped_connections_lose_nothing(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    """A connection dropped before Telegram processed the call: sent again. Dropped after:
    Telegram has it, we cannot know, so it is sent again too (at least once, never lost)."""
    chats = range(9_600_000, 9_600_010)
    await monitored(ctx, bot_api, chats)
    before, after = chats[0], chats[1]
    bot_api.drop_next("sendMessage", chat_id=before)
    bot_api.drop_next("sendMessage", chat_id=after, after_processing=True)
    await broadcast(ctx)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        sender = sender_for(db, bot, clock, backoff=lambda attempts: 0.05)
        running = asyncio.create_task(sender.run())
        while (await db.fetch("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL"))[0]["n"]:
            await asyncio.wait_for(sender.drained(), 30)
        sender.stop()
        await running
    assert len(bot_api.user(before).messages) == 1
    assert len(bot_api.user(after).messages) == 2  # the duplicate at-least-once allows
    for chat_id in chats[2:]:
        assert len(bot_api.user(chat_id).messages) == 1
    assert sorted(processed for _, _, processed in bot_api.dropped) == [False, True]


async def test_a_429_pause_binds_whoever_sends(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    """The paused sender keeps its lease through the pause (a standby does not step in and
    send), and a sender taking over after a crash honours the pause it finds stored."""
    chats = range(9_700_000, 9_700_006)
    await monitored(ctx, bot_api, chats)
    # Aimed at whichever message goes first: the broadcast's rows tie in the claim order.
    bot_api.fail_next("sendMessage", error_code=429, retry_after=2)
    await broadcast(ctx)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        options = {"batch": 2, "leader_ttl": timedelta(seconds=0.6), "poll_seconds": 0.05}
        paused, standby = (
            sender_for(db, bot, clock, **options),
            sender_for(db, bot, clock, **options),
        )
        assert await paused.lead()
        await paused.send_due()  # the 429: a pause of 2 s, stored
        assert paused.pacer.paused_for > 1.5
        sent_before = sends(bot_api)
        tasks = [asyncio.create_task(s.run()) for s in (paused, standby)]
        await asyncio.sleep(1.2)  # real time: twice the lease, well inside the pause
        assert sends(bot_api) == sent_before and paused.leading and not standby.leading
        while (await db.fetch("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL"))[0]["n"]:
            await asyncio.wait_for(paused.drained(), 30)
        for sender in (paused, standby):
            sender.stop()
        await asyncio.gather(*tasks)
        assert standby.counts["sent"] == 0

        # A crash during a pause: the successor finds the pause and waits it out too.
        bot_api.fail_next("sendMessage", error_code=429, retry_after=30, chat_id=chats[1])
        await broadcast(ctx, "Zweiter Hinweis")
        crashed = sender_for(db, bot, clock, **options)
        assert await crashed.lead()
        while not crashed.pacer.paused_for:
            await crashed.send_due()
        await db.fetch("UPDATE leases SET expires_at = now() WHERE name = 'sender'")  # it died
        successor = sender_for(db, bot, clock, **options)
        assert await successor.lead()
        assert successor.pacer.paused_for > 25
        await successor.send_due()  # claims, finds the pause, defers
        assert successor.counts["sent"] == 0


async def test_transient_errors_never_drop_an_alert(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    """After a day of 5xx answers an ordinary message is given up; an alert never is."""
    officer = bot_api.user(9_700_101, "Duty officer", "de")
    group = bot_api.group(-4_700_001, title="Gesundheitsamt")
    await bot_api.add_bot_to_group(group, by=officer)
    person = bot_api.user(9_700_100, "P", "de")
    messages = [
        Outgoing(
            chat_id=chat_id,
            kind=Kind.BROADCAST,
            language="de",
            priority=priority,
            dedup_key=f"transient:{chat_id}",
            payload={"text": "Hinweis"},
            region=REGION,
        )
        for chat_id, priority in ((-4_700_001, Priority.ALERT), (9_700_100, Priority.BROADCAST))
    ]
    await db.transaction(outbox_store.enqueue, messages)
    await db.fetch(
        "UPDATE outbox SET attempts = $1 WHERE dedup_key LIKE 'transient:%'", MAX_ATTEMPTS
    )
    bot_api.fail_next("sendMessage", error_code=502, count=2)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        sender = sender_for(db, bot, clock, backoff=lambda attempts: 0.0)
        assert await sender.lead()
        await sender.send_due()
    rows = {
        r["chat_id"]: r
        for r in await db.fetch(
            "SELECT chat_id, failure, failed_at FROM outbox WHERE dedup_key LIKE 'transient:%'"
        )
    }
    assert rows[9_700_100]["failure"] == "gave_up"
    assert rows[-4_700_001]["failed_at"] is None  # still queued, to be tried again
    assert person.messages == []


async def test_a_stale_senders_results_never_unsend_a_message(
    ctx: ServiceContext, db: Database
) -> None:
    """A sender whose lease lapsed (a long database outage) records a failure or a deferral
    for a message its successor has since sent: the message stays sent."""
    messages = [
        Outgoing(
            chat_id=9_800_000 + n,
            kind=Kind.BROADCAST,
            language="de",
            priority=Priority.BROADCAST,
            dedup_key=f"stale:{n}",
            payload={"text": "Hinweis"},
            region=REGION,
        )
        for n in range(2)
    ]
    await db.transaction(outbox_store.enqueue, messages)
    stale = await db.transaction(outbox_store.claim_due, "stale", 10, timedelta(0))
    successor = await db.transaction(outbox_store.claim_due, "successor", 10, timedelta(minutes=1))
    assert len(stale) == len(successor) == 2  # the stale claim had expired
    await db.transaction(
        outbox_store.finish_batch, BatchResult(sent=[(row, 1) for row in successor])
    )
    late = BatchResult(
        failed=[(stale[0], "bad_request", "400")], later=[(stale[1], 5.0, "x", True)]
    )
    await db.transaction(outbox_store.finish_batch, late)
    rows = await db.fetch(
        "SELECT sent_at, failed_at FROM outbox WHERE dedup_key LIKE 'stale:%' ORDER BY dedup_key"
    )
    assert all(row["sent_at"] is not None and row["failed_at"] is None for row in rows)
