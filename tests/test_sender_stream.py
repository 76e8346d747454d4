"""The sender's stream of batches (bot/sender.py): the next batch is claimed while one is on
its way, and still a crash sends at most one batch twice; a stop hands the claimed-ahead batch
back; a chat held in one batch stays held in the next."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from telegram import Bot

from backend.domain.clock import FixedClock
from backend.domain.messages import Kind, Outgoing, Priority
from backend.services.context import ServiceContext
from backend.storage import outbox as outbox_store
from backend.storage.database import Database
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN
from tests.test_delivery_faults import (  # noqa: F401 - clean: the same autouse clean-up
    REGION,
    broadcast,
    clean,
    monitored,
    sender_for,
    sends,
)


async def pending(db: Database) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT count(*) FILTER (WHERE sent_at IS NULL) AS unsent, "
        "count(*) FILTER (WHERE sent_at IS NULL AND claimed_until IS NOT NULL) AS claimed "
        "FROM outbox"
    )
    return dict(rows[0])


async def test_a_streaming_sender_killed_sends_at_most_one_batch_twice(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    chats = range(9_800_000, 9_800_400)
    await monitored(ctx, bot_api, chats)
    await broadcast(ctx)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        options = {"batch": 50, "leader_ttl": timedelta(seconds=1)}
        first = sender_for(db, bot, clock, **options)
        crashing = asyncio.create_task(first.run())  # streams: the next batch claimed ahead
        await bot_api.state.changed.wait_for(lambda: sends(bot_api) >= 170, 10)
        crashing.cancel()  # killed: the batch in hand unrecorded, the one ahead unsent
        with pytest.raises(asyncio.CancelledError):
            await crashing
        assert (await pending(db))["claimed"] <= 100  # at most the batch in hand and the next

        second = sender_for(db, bot, clock, **options)
        running = asyncio.create_task(second.run())
        await asyncio.wait_for(second.drained(), 30)  # takes over once the lease lapses
        second.stop()
        await running
    for chat_id in chats:
        assert sends(bot_api, chat_id) >= 1, chat_id
    assert sends(bot_api) - len(chats) <= 50  # duplicates: at most the batch in hand
    assert (await pending(db))["unsent"] == 0


async def test_a_stop_hands_the_batch_claimed_ahead_back(
    ctx: ServiceContext, db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    chats = range(9_810_000, 9_810_300)
    await monitored(ctx, bot_api, chats)
    await broadcast(ctx)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        sender = sender_for(db, bot, clock, batch=40)
        running = asyncio.create_task(sender.run())
        await bot_api.state.changed.wait_for(lambda: sends(bot_api) >= 60, 10)
        sender.stop()
        await running
    state = await pending(db)
    assert state["claimed"] == 0 and 0 < state["unsent"] < len(chats)  # released, not sent
    rows = await db.fetch(
        "SELECT attempts FROM outbox WHERE sent_at IS NULL AND last_error = 'handed back unsent'"
    )
    assert rows and all(row["attempts"] == 0 for row in rows)  # the claim was refunded
    assert sends(bot_api) == len(chats) - state["unsent"]  # nothing sent twice


async def test_a_chat_held_in_one_batch_stays_held_in_the_next(
    db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    """A 5xx defers a chat's message; its next message, claimed in the batch ahead, waits
    behind it instead of overtaking it."""
    bot_api.user(9_820_000, "P", "en")
    others = range(9_820_001, 9_820_004)
    for chat_id in others:
        bot_api.user(chat_id, "O", "en")

    def notice(chat_id: int, number: int) -> Outgoing:
        return Outgoing(
            chat_id,
            Kind.BROADCAST,
            "en",
            Priority.BROADCAST,
            f"n:{chat_id}:{number}",
            {"text": f"notice {number}"},
        )

    first = [notice(9_820_000, 1), *(notice(chat_id, 1) for chat_id in others)]
    await db.transaction(outbox_store.enqueue, [*first, notice(9_820_000, 2)])
    bot_api.fail_next("sendMessage", error_code=502, chat_id=9_820_000)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        sender = sender_for(db, bot, clock, batch=4, backoff=lambda attempts: 30.0)
        assert await sender.lead()
        assert await sender.send_stream() == 5
    rows = await db.fetch(
        "SELECT dedup_key, sent_at IS NOT NULL AS sent, not_before > now() AS later "
        "FROM outbox WHERE chat_id = 9820000 ORDER BY dedup_key"
    )
    assert [(r["sent"], r["later"]) for r in rows] == [(False, True), (False, True)]
    assert sends(bot_api) == 1 + len(others)  # the failed attempt and the three others
