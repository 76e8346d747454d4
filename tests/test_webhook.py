"""Webhook mode: Telegram (here the loopback server) POSTs updates to our route, which checks
the secret in constant time, refuses oversized or malformed bodies, and applies a redelivered
update once."""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from backend.config.settings import Settings
from backend.domain.clock import FixedClock
from backend.server import create_app
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN

SECRET = "webhook-secret-for-tests-0123456789"
PATH = "/telegram/webhook"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def webhook_service(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> AsyncIterator[str]:
    port = free_port()
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
            "DIARY_WEBHOOK_URL": f"http://127.0.0.1:{port}{PATH}",
            "DIARY_WEBHOOK_SECRET": SECRET,
        }
    )
    server = TestServer(create_app(settings, clock=clock), host="127.0.0.1", port=port)
    await server.start_server()
    yield f"http://127.0.0.1:{port}{PATH}"
    await server.close()


def message_update(update_id: int, text: str, message_id: int = 1) -> dict:
    user = {"id": 4001, "is_bot": False, "first_name": "W", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1795000000,
            "chat": {"id": 4001, "type": "private", "first_name": "W"},
            "from": user,
            "text": text,
        },
    }


async def test_updates_arrive_by_webhook(webhook_service: str, bot_api: SandboxBotApi) -> None:
    citizen = bot_api.user(4002, "Hook", "en")
    await citizen.send_text("/start")
    reply = await citizen.wait_for_message()
    assert "personal link" in reply["text"]
    assert "getUpdates" not in [method for method, _ in bot_api.calls]


async def test_the_secret_is_checked(webhook_service: str) -> None:
    async with ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            response = await http.post(
                webhook_service, json=message_update(1, "/start"), headers=headers
            )
            assert response.status == 403


async def test_bad_bodies_are_refused(webhook_service: str) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with ClientSession() as http:
        big = io.BytesIO(b"x" * (1024 * 1024 + 1))
        response = await http.post(webhook_service, data=big, headers=headers)
        assert response.status == 413
        response = await http.post(webhook_service, data=b"{not json", headers=headers)
        assert response.status == 400
        response = await http.post(webhook_service, json=[1, 2], headers=headers)
        assert response.status == 400


async def test_a_redelivered_update_is_applied_once(
    webhook_service: str, bot_api: SandboxBotApi
) -> None:
    bot_api.user(4001, "W", "en")  # the chat exists on the Bot API side
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    update = message_update(9_000_000_001, "/start")
    async with ClientSession() as http:
        for _ in range(3):
            response = await http.post(webhook_service, json=update, headers=headers)
            assert response.status == 200
    # Wait for the one reply, then make sure no second one followed: the sender has drained
    # the outbox once a marker message sent afterwards has arrived.
    chat = bot_api.handle_for(4001)
    await chat.wait_for_message()
    marker = message_update(9_000_000_002, "/help")
    async with ClientSession() as http:
        await http.post(webhook_service, json=marker, headers=headers)
    await chat.wait_for_message()
    texts = [m["text"] for m in chat.messages]
    assert len(texts) == 2, texts


async def test_a_reused_update_id_with_new_content_is_applied(
    webhook_service: str, bot_api: SandboxBotApi
) -> None:
    """Telegram may restart update ids after a quiet week; a new message is not a repeat."""
    chat = bot_api.user(4001, "W", "en")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with ClientSession() as http:
        for message_id in (10, 11):
            update = message_update(9_100_000_001, "/help", message_id=message_id)
            assert (await http.post(webhook_service, json=update, headers=headers)).status == 200
            await chat.wait_for_message()
    assert len(chat.messages) == 2


def press_update(update_id: int, query_id: str, data: str) -> dict:
    user = {"id": 4001, "is_bot": False, "first_name": "W", "language_code": "en"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": 1,
                "date": 1795000000,
                "chat": {"id": 4001, "type": "private", "first_name": "W"},
                "text": "a question",
            },
        },
    }


async def test_a_restarted_server_reusing_ids_is_not_mistaken_for_a_redelivery(
    webhook_service: str, bot_api: SandboxBotApi
) -> None:
    """A Bot API server that restarts numbers updates, messages and callback queries from 1
    again while our database remembers the old ones: only the whole content tells them apart.
    Same update id, message id and date, different text; same update id and query id,
    different button."""
    chat = bot_api.user(4001, "W", "en")
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with ClientSession() as http:
        for text in ("/help", "/privacy"):
            update = message_update(1, text, message_id=1)
            assert (await http.post(webhook_service, json=update, headers=headers)).status == 200
            await chat.wait_for_message()
        for data in ("q:stale-1", "q:stale-2"):
            update = press_update(1, "1", data)
            assert (await http.post(webhook_service, json=update, headers=headers)).status == 200
        # ... and a true redelivery of the last press is still applied only once.
        assert (await http.post(webhook_service, json=update, headers=headers)).status == 200
        marker = message_update(2, "/help", message_id=2)
        assert (await http.post(webhook_service, json=marker, headers=headers)).status == 200
    await chat.wait_for_message()
    assert len(chat.messages) == 3
    answers = [p for method, p in bot_api.calls if method == "answerCallbackQuery"]
    assert [p["callback_query_id"] for p in answers] == ["1", "1"]
