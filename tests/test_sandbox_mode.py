"""Without a Telegram token the service runs its bot against the built-in loopback Bot API
server, says so in the log, and a person can chat with it through the sandbox page's API."""

from __future__ import annotations

import logging

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from backend.config.settings import Settings
from backend.domain.clock import FixedClock
from backend.server import create_app


async def bot_reply(http: ClientSession, messages_url: str, after: int) -> dict:
    """Long-poll the sandbox page's API until the bot has written in the chat."""
    for _ in range(20):
        response = await http.get(messages_url, params={"after": after, "wait": 5})
        body = await response.json()
        from_bot = [m for m in body["messages"] if m["from"]["is_bot"]]
        if from_bot:
            return from_bot[-1]
        after = body["seq"]
    raise AssertionError("the bot never answered in the sandbox")


async def test_sandbox_mode(
    database_url: str, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"DIARY_DATABASE_URL": database_url, "DIARY_SANDBOX_PORT": "0"})
    assert settings.sandbox
    caplog.set_level(logging.INFO)
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        assert (await client.get("/healthz")).status == 200
        banner = [r.getMessage() for r in caplog.records if "SANDBOX MODE" in r.getMessage()]
        assert len(banner) == 1 and "not to Telegram" in banner[0]
        page = banner[0].rsplit(" ", 1)[-1]
        async with ClientSession() as http:
            response = await http.get(page)
            assert response.status == 200 and "<html" in (await response.text()).lower()
            messages = page.rstrip("/") + "/api/chats/5001/messages"
            sent = await http.post(
                messages,
                json={
                    "text": "/start",
                    "from": {"id": 5001, "first_name": "Sam", "language_code": "en"},
                },
            )
            assert sent.status == 200, await sent.text()
            reply = await bot_reply(http, messages, after=0)
            assert "personal link your health authority gave you" in reply["text"]
