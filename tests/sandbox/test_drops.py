"""Dropped connections (``server.drop_next``): the bot gets no answer at all, before or after the
sandbox carried the call out, which is how lost messages and duplicates arise in real life."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError

from bot.sandbox import SandboxBotApi

DISCONNECTED = "httpx.RemoteProtocolError: Server disconnected without sending a response."


async def assert_dropped(call: Awaitable[Any]) -> None:
    """The call failed because the connection closed without an answer (PTB's BadRequest and
    TimedOut are NetworkErrors too, and an injected 5xx is a plain one; none of those count)."""
    with pytest.raises(NetworkError) as caught:
        await call
    assert type(caught.value) is NetworkError
    assert caught.value.message == DISCONNECTED


@pytest.fixture(autouse=True)
async def no_loop_or_server_errors(caplog: pytest.LogCaptureFixture) -> AsyncIterator[None]:
    """Dropping must be silent: nothing for the loop's exception handler ("Task exception was
    never retrieved", unclosed transports), no warning or error logged by aiohttp."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    caplog.set_level(logging.DEBUG)
    try:
        yield
        gc.collect()  # finalizers of anything left behind would report now
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == []


async def test_drop_before_processing_sends_nothing(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    server.drop_next("sendMessage")
    await assert_dropped(bot.send_message(1001, "lost"))
    assert user.messages == []
    assert server.dropped == [("sendMessage", {"chat_id": 1001, "text": "lost"}, False)]
    assert server.stats["dropped"] == 1 and server.stats["errors"] == 0
    assert server.calls[-1] == ("sendMessage", {"chat_id": 1001, "text": "lost"})
    # The bot's retry goes through on a new connection, and no message id was used up.
    resent = await bot.send_message(1001, "lost")
    assert resent.message_id == 1
    assert [m["text"] for m in user.messages] == ["lost"]
    assert server.faults.pending == []


async def test_drop_after_processing_leaves_the_message_and_a_retry_duplicates_it(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    server.drop_next("sendMessage", after_processing=True)
    await assert_dropped(bot.send_message(1001, "Your reminder"))
    delivered = await user.wait_for_message()
    assert delivered["text"] == "Your reminder" and delivered["message_id"] == 1
    assert user.messages == [delivered]
    assert server.dropped == [("sendMessage", {"chat_id": 1001, "text": "Your reminder"}, True)]
    assert server.stats["sendMessage"] == 1 and server.stats["dropped"] == 1
    # A bot that resends after the NetworkError delivers the same text twice.
    await bot.send_message(1001, "Your reminder")
    assert [(m["message_id"], m["text"]) for m in user.messages] == [
        (1, "Your reminder"),
        (2, "Your reminder"),
    ]


async def test_count_chat_and_method_filters(server: SandboxBotApi, bot: telegram.Bot) -> None:
    ada, bob = server.user(1001, "Ada"), server.user(1002, "Bob")
    server.drop_next("sendMessage", chat_id=1002, count=2)
    await bot.send_message(1001, "to Ada")  # other chat: not affected
    await bot.get_me()  # other method: not affected
    for attempt in range(2):
        await assert_dropped(bot.send_message(1002, f"attempt {attempt}"))
    await bot.send_message(1002, "attempt 2")
    assert [m["text"] for m in ada.messages] == ["to Ada"]
    assert [m["text"] for m in bob.messages] == ["attempt 2"]
    assert [(method, params["text"]) for method, params, _ in server.dropped] == [
        ("sendMessage", "attempt 0"),
        ("sendMessage", "attempt 1"),
    ]
    assert server.faults.pending == []

    server.drop_next(method=None)  # any method
    await assert_dropped(bot.get_me())
    assert server.dropped[-1] == ("getMe", {}, False)
    assert (await bot.get_me()).username == "SymptomDiarySandboxBot"

    with pytest.raises(ValueError, match="count"):
        server.drop_next(count=0)


async def test_drops_and_error_faults_are_consumed_in_planned_order(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    server.user(1001, "Ada")
    server.fail_next("sendMessage", error_code=502)
    server.drop_next("sendMessage")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(1001, "first")
    await assert_dropped(bot.send_message(1001, "second"))
    await bot.send_message(1001, "third")
    assert server.stats["502"] == 1 and server.stats["dropped"] == 1


async def test_only_the_dropped_connection_is_affected(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    users = [server.user(2000 + n, f"User {n}") for n in range(8)]
    server.drop_next("sendMessage", chat_id=2003)
    results = await asyncio.gather(
        *(bot.send_message(user.user_id, "hello") for user in users), return_exceptions=True
    )
    failed = [
        user.user_id
        for user, result in zip(users, results, strict=True)
        if not isinstance(result, telegram.Message)
    ]
    assert failed == [2003]
    assert isinstance(results[3], NetworkError) and results[3].message == DISCONNECTED
    assert [len(user.messages) for user in users] == [1, 1, 1, 0, 1, 1, 1, 1]


async def test_edit_message_text_drops(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(1001, "Loading…")

    server.drop_next("editMessageText")
    await assert_dropped(bot.edit_message_text("Done", 1001, sent.message_id))
    assert user.last_message["text"] == "Loading…"

    server.drop_next("editMessageText", chat_id=1001, after_processing=True)
    await assert_dropped(bot.edit_message_text("Done", 1001, sent.message_id))
    assert user.last_message["text"] == "Done"
    assert [processed for _, _, processed in server.dropped] == [False, True]
    # The retry finds the edit already made, as it would on Telegram.
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Done", 1001, sent.message_id)


async def test_answer_callback_query_drops(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Well", callback_data="well")]])
    sent = await bot.send_message(1001, "How are you?", reply_markup=markup)

    query = await user.press_button(sent.to_dict(), "Well")
    server.drop_next("answerCallbackQuery")
    await assert_dropped(bot.answer_callback_query(query["id"], text="Thanks"))
    assert user.callback_answers == []
    assert await bot.answer_callback_query(query["id"], text="Thanks") is True
    assert [a["text"] for a in user.callback_answers] == ["Thanks"]

    query = await user.press_button(sent.to_dict(), "Well")
    server.drop_next("answerCallbackQuery", after_processing=True)
    await assert_dropped(bot.answer_callback_query(query["id"], text="Noted"))
    assert (await user.wait_for_answer(query))["text"] == "Noted"
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query["id"], text="Noted")
    assert [(method, processed) for method, _, processed in server.dropped] == [
        ("answerCallbackQuery", False),
        ("answerCallbackQuery", True),
    ]


async def test_a_failing_call_dropped_after_processing_records_its_error(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    server.drop_next("sendMessage", after_processing=True)
    await assert_dropped(bot.send_message(4242, "to an unknown chat"))
    assert server.errors[-1][1]["description"] == "Bad Request: chat not found"
    assert server.dropped == [
        ("sendMessage", {"chat_id": 4242, "text": "to an unknown chat"}, True)
    ]


async def test_the_wire_carries_no_response_bytes(server: SandboxBotApi) -> None:
    server.user(1001, "Ada")
    server.drop_next("sendMessage")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    body = b'{"chat_id": 1001, "text": "hi"}'
    writer.write(
        f"POST /bot{server.token}/sendMessage HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    try:
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # EOF, nothing before
    finally:
        writer.close()
        await writer.wait_closed()
    assert server.dropped == [("sendMessage", {"chat_id": 1001, "text": "hi"}, False)]


async def test_dropped_is_bounded_like_calls(server: SandboxBotApi, bot: telegram.Bot) -> None:
    server.user(1001, "Ada")
    server.max_recorded_calls = 2
    server.drop_next("sendMessage", count=3)
    for n in range(3):
        await assert_dropped(bot.send_message(1001, f"try {n}"))
    assert [params["text"] for _, params, _ in server.dropped] == ["try 1", "try 2"]
    assert server.stats["dropped"] == 3
