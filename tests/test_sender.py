"""The outbox sender against the loopback Bot API: order, results, and Telegram's errors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from backend.domain.clock import FixedClock
from backend.domain.messages import Kind, Outgoing, Priority
from backend.i18n import catalogs
from backend.services.context import Signal
from backend.storage import outbox
from backend.storage.database import Database
from bot.pacing import Pacer
from bot.render import Renderer
from bot.sandbox import SandboxBotApi
from bot.sender import OutboxSender
from tests.conftest import BOT_TOKEN


@pytest.fixture
async def sender(
    db: Database, bot_api: SandboxBotApi, clock: FixedClock
) -> AsyncIterator[OutboxSender]:
    async with db.pool.acquire() as conn:
        # Each test starts with an empty outbox.
        await conn.execute("DELETE FROM outbox")
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        yield OutboxSender(db, bot, Renderer(catalogs(), clock), Signal(), rate=1000)


def reply(
    chat_id: int, message: str = "button_expected", priority: Priority = Priority.INTERACTIVE
) -> Outgoing:
    return Outgoing(
        chat_id=chat_id,
        kind=Kind.REPLY,
        language="en",
        priority=priority,
        dedup_key=f"test:{uuid.uuid4()}",
        payload={"message": message, "params": {}},
    )


async def enqueue(db: Database, *messages: Outgoing) -> None:
    await db.transaction(outbox.enqueue, list(messages))


async def row_state(db: Database) -> list[dict]:
    rows = await db.fetch(
        "SELECT dedup_key, sent_at IS NOT NULL AS sent, failed_at IS NOT NULL AS failed, "
        "last_error, attempts, not_before > now() AS later, sent_message_id "
        "FROM outbox ORDER BY created_at, seq"
    )
    return [dict(r) for r in rows]


async def make_due(db: Database) -> None:
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET not_before = now() WHERE sent_at IS NULL")


async def test_sends_in_priority_order_and_records_message_ids(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    user = bot_api.user(6001, "P", "en")
    await enqueue(db, reply(6001, "code_expired", Priority.BROADCAST), reply(6001, "code_used"))
    assert await sender.send_due() == 2
    texts = [m["text"] for m in user.messages]
    assert "already been used" in texts[0] and "expired" in texts[1]
    assert all(r["sent"] and r["sent_message_id"] for r in await row_state(db))
    assert await sender.send_due() == 0  # nothing is sent twice


async def test_a_429_pauses_everything_then_resumes(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    user = bot_api.user(6002, "Q", "en")
    other = bot_api.user(6012, "Q2", "en")
    sender.pacer = Pacer(30)  # 33 ms between sends: the 429 arrives before the next slot
    bot_api.fail_next("sendMessage", error_code=429, retry_after=7)
    await enqueue(db, reply(6002), reply(6002, "code_used"), reply(6012))
    await sender.send_due()
    assert 6 < sender.pacer.paused_for <= 7 and sender.counts["429"] == 1
    # Nothing more went out during the pause, to this chat or any other.
    assert user.messages == [] and other.messages == []
    states = await row_state(db)
    assert all(not r["sent"] and not r["failed"] and r["later"] for r in states)
    assert all(r["attempts"] == 0 for r in states)  # a 429 is not the message's fault
    sender.pacer = Pacer(30)  # a fresh pacer: the test does not wait the 7 s out
    await make_due(db)
    assert await sender.send_due() == 3
    assert len(user.messages) == 2 and len(other.messages) == 1
    assert "expired" not in user.messages[0]["text"]  # still in order


async def test_blocked_chats_and_bad_requests_fail_for_good(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    blocked = bot_api.user(6003, "Blocked", "en")
    bot_api.block_bot(blocked)
    bot_api.user(6004, "Bad", "en")
    bot_api.fail_next(
        "sendMessage", error_code=400, chat_id=6004, description="Bad Request: chat not found"
    )
    await enqueue(db, reply(6003), reply(6004))
    await sender.send_due()
    first, second = await row_state(db)
    assert first["failed"] and "Forbidden" in first["last_error"]
    assert second["failed"] and "chat not found" in second["last_error"].lower()
    await make_due(db)
    assert await sender.send_due() == 0


async def test_server_errors_are_retried_with_backoff(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    user = bot_api.user(6005, "R", "en")
    bot_api.fail_next("sendMessage", error_code=502)
    await enqueue(db, reply(6005))
    await sender.send_due()
    (state,) = await row_state(db)
    assert not state["sent"] and not state["failed"] and state["later"] and state["attempts"] == 1
    await make_due(db)
    await sender.send_due()
    assert len(user.messages) == 1 and (await row_state(db))[0]["sent"]


async def test_unknown_kinds_fail_without_stopping_the_rest(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    user = bot_api.user(6006, "S", "en")
    odd = Outgoing(6006, Kind.REPLY, "en", Priority.INTERACTIVE, "odd", {"message": "no_such_text"})
    await enqueue(db, odd, reply(6006))
    await sender.send_due()
    first, second = await row_state(db)
    assert first["failed"] and second["sent"] and len(user.messages) == 1


async def test_an_edit_that_changes_nothing_counts_as_sent(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    bot_api.user(6007, "T", "en")
    bot_api.fail_next(
        "editMessageText",
        error_code=400,
        description="Bad Request: message is not modified: specified new message content and "
        "reply markup are exactly the same as a current content and reply markup of the message",
    )
    edit = Outgoing(
        6007,
        Kind.QUESTIONNAIRE,
        "en",
        Priority.INTERACTIVE,
        "edit",
        {
            "prompt": str(uuid.uuid4()),
            "message_id": 1,
            "step": "symptoms",
            "symptoms": [],
            "date": "2026-11-26",
        },
    )
    await enqueue(db, edit)
    await sender.send_due()
    assert (await row_state(db))[0]["sent"], await row_state(db)


def best_effort(chat_id: int, kind: Kind, **payload: object) -> Outgoing:
    return Outgoing(
        chat_id=chat_id,
        kind=kind,
        language="en",
        priority=Priority.INTERACTIVE,
        dedup_key=f"test:{uuid.uuid4()}",
        payload=payload,
    )


async def test_best_effort_calls_fail_at_once_and_hold_nothing_back(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    """A button press is answered within seconds or never; a stale keyboard does no harm."""
    user = bot_api.user(6020, "B", "en")
    bot_api.fail_next("answerCallbackQuery", error_code=502)
    bot_api.fail_next("editMessageReplyMarkup", error_code=500, chat_id=6020)
    await enqueue(
        db,
        best_effort(6020, Kind.ANSWER_CALLBACK, query="q-1", notice="recorded"),
        best_effort(6020, Kind.CLEAR_BUTTONS, message_id=1),
        reply(6020),
    )
    assert await sender.send_due() == 3
    answer, clear, message = await row_state(db)
    assert answer["failed"] and not answer["later"] and answer["attempts"] <= 1
    assert clear["failed"] and not clear["later"]
    assert message["sent"] and len(user.messages) == 1


async def test_an_answer_the_library_cannot_understand_fails_that_message_only(
    sender: OutboxSender, db: Database, bot_api: SandboxBotApi
) -> None:
    """HTTP 200 with {"ok": false} makes PTB raise KeyError: that message is retried later
    like after a network error (counting an attempt); the rest of the batch is recorded."""
    odd = bot_api.user(6021, "Odd", "en")
    fine = bot_api.user(6022, "Fine", "en")
    bot_api.answer_next("sendMessage", {"ok": False}, chat_id=6021)
    await enqueue(db, reply(6021), reply(6022))
    assert await sender.send_due() == 2
    first, second = await row_state(db)
    assert not first["sent"] and not first["failed"] and first["later"]
    assert first["attempts"] == 1 and "KeyError" in first["last_error"]
    assert second["sent"] and len(fine.messages) == 1
    await make_due(db)
    assert await sender.send_due() == 1  # only the deferred one, sent now
    assert len(odd.messages) == 1 and len(fine.messages) == 1


async def test_a_group_takes_a_burst_of_alerts_then_twenty_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twenty alerts to one authority group go out a second apart, the 21st waits until the
    oldest has left Telegram's one-minute window (paced at 98%: 61.2 s)."""
    now = [1000.0]
    monkeypatch.setattr(Pacer, "_now", staticmethod(lambda: now[0]))
    pacer = Pacer(1000)
    group, person = -100_123, 4242
    for sent in range(1, 21):
        assert pacer.chat_delay(group, "sendMessage") == 0.0
        assert await pacer.turn(group, "sendMessage")
        if sent < 20:
            assert pacer.chat_delay(group, "sendMessage") == pytest.approx(1 / 0.98)
        now[0] += 1 / 0.98
    assert pacer.chat_delay(group, "sendMessage") == pytest.approx(60 / 0.98 - 20 / 0.98)
    now[0] = 1000.0 + 60 / 0.98
    assert pacer.chat_delay(group, "sendMessage") == 0.0
    assert pacer.chat_delay(person, "sendMessage") == 0.0  # other chats are not held up


async def test_a_conflict_is_contention_not_an_outage(
    sender: OutboxSender,
    db: Database,
    bot_api: SandboxBotApi,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A transaction of the sender's that kept conflicting (40001 after its retries) does not
    rest the sender a second as an unreachable database would: it goes on at once."""
    import asyncio

    import asyncpg

    user = bot_api.user(6090, "C", "en")
    await enqueue(db, reply(6090, "code_used"))
    send_stream = sender.send_stream
    conflicts = [asyncpg.SerializationError("could not serialize access")]

    async def conflicting() -> int:
        if conflicts:
            raise conflicts.pop()
        return await send_stream()

    rests: list[float] = []
    rest = sender._rest

    async def recording(seconds: float) -> None:
        rests.append(seconds)
        await rest(seconds)

    monkeypatch.setattr(sender, "send_stream", conflicting)
    monkeypatch.setattr(sender, "_rest", recording)
    running = asyncio.create_task(sender.run())
    await user.wait_for_message()
    sender.stop()
    await asyncio.wait_for(running, 10)
    assert not conflicts
    assert 1.0 not in rests  # the outage's pause
    assert "conflicted with concurrent work" in caplog.text
    assert "cannot reach the database" not in caplog.text
