"""The aiohttp request class sends what PTB's default (httpx) request class sends, so any Bot API
server that works with PTB works with us."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import HTTPXRequest

from bot.aiohttp_request import AiohttpRequest

TOKEN = "123:TOKEN"
BOT_USER = {"id": 123, "is_bot": True, "first_name": "B", "username": "b_bot"}


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[str, list[tuple[str, str, dict[str, Any]]]]]:
    """A Bot API stand-in that records (method, content type, form fields) of each call."""
    seen: list[tuple[str, str, dict[str, Any]]] = []

    async def handle(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        fields = dict(await request.post())
        seen.append((method, request.content_type, fields))
        return web.json_response({"ok": True, "result": BOT_USER if method == "getMe" else True})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}/bot", seen
    await server.close()


async def calls_made_with(request_class: type, base_url: str) -> None:
    async with Bot(TOKEN, base_url=base_url, request=request_class()) as bot:
        await bot.answer_callback_query("42", text="Saved ✓", show_alert=True)
        await bot.set_my_commands([BotCommand("start", "Start")], language_code="de")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
        await bot.edit_message_reply_markup(chat_id=555, message_id=7, reply_markup=markup)


async def test_bodies_are_the_forms_ptb_sends_by_default(recorder) -> None:  # noqa: ANN001
    base_url, seen = recorder
    await calls_made_with(HTTPXRequest, base_url)
    by_httpx = list(seen)
    seen.clear()
    await calls_made_with(AiohttpRequest, base_url)
    methods = [method for method, _, _ in seen]
    assert methods == ["getMe", "answerCallbackQuery", "setMyCommands", "editMessageReplyMarkup"]
    assert seen[1:] == by_httpx[1:]
    assert seen[-1][1] == "application/x-www-form-urlencoded"
    assert seen[-1][2]["chat_id"] == "555"  # form values, not a JSON body of strings
