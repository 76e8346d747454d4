"""Error answers: Telegram's JSON shapes, and the PTB exceptions they turn into."""

from __future__ import annotations

import datetime as dtm

import aiohttp
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from bot.sandbox import SandboxBotApi

from .conftest import FakeClock


async def post_json(url: str, payload: dict) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as response:
        return response.status, await response.json()


async def test_wrong_token_is_401(server: SandboxBotApi) -> None:
    status, body = await post_json(f"{server.root_url}/bot999:WRONG/getMe", {})
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    with pytest.raises(InvalidToken):
        async with telegram.Bot("999:WRONG", base_url=server.base_url):
            pass


async def test_unknown_method_is_404(server: SandboxBotApi, bot: telegram.Bot) -> None:
    status, body = await post_json(f"{server.base_url}{server.token}/fooBar", {})
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("fooBar")


async def test_method_names_are_case_insensitive(server: SandboxBotApi) -> None:
    status, body = await post_json(f"{server.base_url}{server.token}/GETME", {})
    assert status == 200 and body["result"]["username"] == "SymptomDiarySandboxBot"
    assert server.calls[-1][0] == "getMe"


@pytest.mark.parametrize(
    ("kwargs", "description"),
    [
        ({"chat_id": 1001, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": 1001, "text": " \n "}, "Bad Request: message text is empty"),
        ({"chat_id": 1001, "text": "x" * 4097}, "Bad Request: message is too long"),
        ({"chat_id": 4242, "text": "hi"}, "Bad Request: chat not found"),
        (
            {"chat_id": 1001, "text": "a < b", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2',
        ),
        (
            {"chat_id": 1001, "text": "<b>open", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
        (
            {
                "chat_id": 1001,
                "text": "hi",
                "reply_markup": InlineKeyboardMarkup(
                    [[InlineKeyboardButton("x", callback_data="d" * 65)]]
                ),
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
    ],
)
async def test_send_message_bad_requests(
    server: SandboxBotApi, bot: telegram.Bot, kwargs: dict, description: str
) -> None:
    server.user(1001, "Ada")
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(**kwargs)
    # PTB drops the "Bad Request: " prefix and applies str.capitalize() (lowercasing the rest);
    # the wire carries Telegram's text unchanged.
    assert caught.value.message == description.removeprefix("Bad Request: ").capitalize()
    assert server.errors[-1] == (
        "sendMessage",
        {"ok": False, "error_code": 400, "description": description},
    )
    assert server.stats["400"] == 1


async def test_error_json_shape_for_callback_data_too_long(server: SandboxBotApi) -> None:
    server.user(1001, "Ada")
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": "é" * 33}]]}  # 66 bytes
    status, body = await post_json(
        f"{server.base_url}{server.token}/sendMessage",
        {"chat_id": 1001, "text": "hi", "reply_markup": markup},
    )
    assert status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: BUTTON_DATA_INVALID",
    }


async def test_edit_errors(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(
        1001,
        "Same",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="b")]]),
    )
    with pytest.raises(BadRequest, match="^Message is not modified: specified new message content"):
        await bot.edit_message_text("Same", 1001, sent.message_id, reply_markup=sent.reply_markup)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("Other", 1001, 999)
    mine = await user.send_text("my own message")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("hacked", 1001, mine["message_id"])
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(1001, 999)
    with pytest.raises(BadRequest, match="Query is too old and response timeout expired"):
        await bot.answer_callback_query("123")


async def test_blocked_user_is_403(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    server.block_bot(user)
    status, body = await post_json(
        f"{server.base_url}{server.token}/sendMessage", {"chat_id": 1001, "text": "hi"}
    )
    assert status == 403
    assert body == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(1001, "hi")
    (update,) = await bot.get_updates()
    assert update.my_chat_member.new_chat_member.status == "kicked"
    server.unblock_bot(user)
    assert (await bot.send_message(1001, "welcome back")).text == "welcome back"


async def test_migrated_group_is_400_with_migrate_to(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    ada = server.user(1001, "Ada")
    group = server.group(-4001, "Amt")
    assert group.chat["type"] == "group"
    await server.add_bot_to_group(group, by=ada)
    server.migrate_group(group, new_chat_id=-100999)
    status, body = await post_json(
        f"{server.base_url}{server.token}/sendMessage", {"chat_id": -4001, "text": "hi"}
    )
    assert status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -100999},
    }
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-4001, "hi")
    assert caught.value.new_chat_id == -100999
    assert group.chat_id == -100999
    await bot.send_message(-100999, "hello supergroup")
    assert group.messages[-1]["chat"] == {"id": -100999, "type": "supergroup", "title": "Amt"}
    kinds = [next(k for k in u.to_dict() if k != "update_id") for u in await bot.get_updates()]
    assert kinds == ["my_chat_member", "message", "message", "message"]


async def test_injected_faults(server: SandboxBotApi, bot: telegram.Bot, monkeypatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    server.user(1001, "Ada")
    server.user(1002, "Bob")
    server.fail_next(method="sendMessage", error_code=429, retry_after=3, chat_id=1002)
    await bot.send_message(1001, "not affected")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1002, "flooded")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)
    await bot.send_message(1002, "fine again")

    server.fail_next(method="sendMessage", error_code=502, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(1001, "x")
    server.fail_next(
        method="editMessageText",
        error_code=400,
        description="Bad Request: message to edit not found",
    )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 1001, 1)
    server.fail_next(method=None, error_code=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.get_me()
    assert server.stats["429"] == 1 and server.stats["502"] == 2 and server.stats["500"] == 1
    assert server.faults.pending == []


async def test_enforced_limits_answer_429(
    server: SandboxBotApi, bot: telegram.Bot, clock: FakeClock, monkeypatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    server.user(1001, "Ada")
    server.enforce_limits = True
    # A private chat takes bursts of 3 a second, but only 10 messages in any 10 seconds.
    for second in range(3):
        for n in range(3):
            await bot.send_message(1001, f"burst {second}.{n}")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(1001, "one too many")
        assert caught.value.retry_after == dtm.timedelta(seconds=1)
        clock.advance(1.0)
    await bot.send_message(1001, "tenth")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1001, "eleventh")
    # The first burst (t=0) leaves the 10 s window at t=10; it is t=3 now.
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    assert server.stats["429"] == 4
    assert server.errors[-1][1] == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    server.enforce_limits = False
    await bot.send_message(1001, "unlimited again")
