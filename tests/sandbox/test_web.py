"""The browser page and its JSON API, including bad input (always a clear 4xx, never a 500)."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox import SandboxBotApi


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


def api_url(server: SandboxBotApi, path: str) -> str:
    return f"{server.web_url}api/{path}"


ADA = {"id": 1001, "first_name": "Ada", "language_code": "de"}


async def test_page_is_self_contained_and_escapes(server: SandboxBotApi, session) -> None:
    async with session.get(server.web_url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert "<script>" in page and "textContent" in page
    assert "innerHTML" not in page  # bot text only ever enters the DOM as text
    # No external resources: every src/href is relative or built at run time.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    async with session.get(f"{server.root_url}/sandbox", allow_redirects=False) as response:
        assert response.status == 302 and response.headers["Location"] == "/sandbox/"


async def test_write_read_and_press(server: SandboxBotApi, bot: telegram.Bot, session) -> None:
    async with session.post(
        api_url(server, "chats/1001/messages"), json={"text": "/start", "from": ADA}
    ) as response:
        assert response.status == 200
        written = (await response.json())["message"]
    assert written["entities"][0]["type"] == "bot_command"
    (update,) = await bot.get_updates()
    assert update.message.from_user.first_name == "Ada"
    assert update.message.from_user.language_code == "de"

    markup = InlineKeyboardMarkup([[InlineKeyboardButton("<b>Well</b>", callback_data="well")]])
    sent = await bot.send_message(1001, "Hi <i>Ada</i>", parse_mode="HTML", reply_markup=markup)
    async with session.get(api_url(server, "chats/1001/messages")) as response:
        listing = await response.json()
    assert [m["text"] for m in listing["messages"]] == ["/start", "Hi Ada"]
    assert listing["messages"][1]["entities"] == [{"type": "italic", "offset": 3, "length": 3}]
    seq = listing["seq"]

    # Long poll: held until something changes after `seq`.
    poll = asyncio.create_task(
        session.get(api_url(server, f"chats/1001/messages?after={seq}&wait=20"))
    )
    async with session.post(
        api_url(server, "chats/1001/press"),
        json={"message_id": sent.message_id, "data": "well", "from": ADA},
    ) as response:
        assert response.status == 200
        query_id = (await response.json())["callback_query_id"]
    (update,) = await bot.get_updates(offset=update.update_id + 1)
    assert update.callback_query.id == query_id
    await update.callback_query.answer("Noted")
    async with await asyncio.wait_for(poll, 5) as response:
        listing = await response.json()
    assert listing["seq"] >= seq
    assert listing["callback_answers"][-1]["text"] == "Noted"

    async with session.get(api_url(server, "info")) as response:
        info = await response.json()
    assert info["bot"]["username"] == "SymptomDiarySandboxBot"
    assert info["users"] == [
        {"id": 1001, "is_bot": False, "first_name": "Ada", "language_code": "de"}
    ]


async def test_write_in_group(server: SandboxBotApi, bot: telegram.Bot, session) -> None:
    officer = server.user(2001, "Officer")
    group = server.group(-1001, "Amt")
    await server.add_bot_to_group(group, by=officer)
    async with session.post(
        api_url(server, "chats/-1001/messages"),
        json={"text": "/broadcast hi", "from": {"id": 2001}},
    ) as response:
        assert response.status == 200
    assert group.history[-1]["text"] == "/broadcast hi"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error"),
    [
        (
            "post",
            "chats/1001/messages",
            {"data": "{", "headers": {"Content-Type": "application/json"}},
            400,
            "the body is not valid JSON",
        ),
        ("post", "chats/1001/messages", {"data": "text=hi"}, 415, "application/json"),
        ("post", "chats/1001/messages", {"json": ["text"]}, 400, "must be a JSON object"),
        ("post", "chats/1001/messages", {"json": {"from": ADA}}, 400, "'text'"),
        ("post", "chats/1001/messages", {"json": {"text": "hi"}}, 400, "'from' must be an object"),
        (
            "post",
            "chats/1001/messages",
            {"json": {"text": "hi", "from": {"id": "x"}}},
            400,
            "'id' must be a positive integer",
        ),
        (
            "post",
            "chats/1001/messages",
            {"json": {"text": "hi", "from": {"id": 5}}},
            400,
            "'first_name' is required",
        ),
        (
            "post",
            "chats/1001/messages",
            {"json": {"text": "hi", "from": {**ADA, "language_code": "<script>"}}},
            400,
            "'language_code'",
        ),
        (
            "post",
            "chats/1001/messages",
            {"json": {"text": "hi", "from": {**ADA, "id": 7}}},
            400,
            "'from.id' must be the chat id",
        ),
        (
            "post",
            "chats/abc/messages",
            {"json": {"text": "hi", "from": ADA}},
            400,
            "not an integer",
        ),
        ("post", "chats/-5/messages", {"json": {"text": "hi", "from": ADA}}, 404, "unknown chat"),
        ("get", "chats/999/messages", {}, 404, "unknown chat"),
        ("get", "chats/1001/messages?after=x", {}, 400, "'after' must be an integer"),
        (
            "post",
            "chats/1001/press",
            {"json": {"message_id": 99, "data": "x", "from": ADA}},
            404,
            "no bot message 99",
        ),
        (
            "post",
            "chats/1001/press",
            {"json": {"message_id": True, "data": "x", "from": ADA}},
            400,
            "'message_id' must be an integer",
        ),
        ("post", "chats/1001/press", {"json": {"message_id": 1, "from": ADA}}, 400, "'data'"),
        ("post", "users", {"json": {"id": -3, "first_name": "X"}}, 400, "positive integer"),
        ("post", "users", {"json": {"id": 3, "first_name": "   "}}, 400, "'first_name'"),
    ],
)
async def test_bad_input_gets_clear_json_errors(
    server: SandboxBotApi, session, method: str, path: str, kwargs: dict, status: int, error: str
) -> None:
    server.user(1001, "Ada", "de")
    async with getattr(session, method)(api_url(server, path), **kwargs) as response:
        body = await response.json()
        assert response.status == status, body
    assert body["ok"] is False
    assert error in body["error"]


async def test_blocked_user_gets_409_not_500(server: SandboxBotApi, session) -> None:
    server.block_bot(server.user(1001, "Ada"))
    async with session.post(
        api_url(server, "chats/1001/messages"), json={"text": "hi", "from": ADA}
    ) as response:
        assert response.status == 409
        assert "blocked the bot" in (await response.json())["error"]
