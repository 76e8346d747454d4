"""Without a Telegram token the service runs its bot against the built-in loopback Bot API
server, says so in the log, and a person can chat with it through the sandbox page's API."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer

from backend.config.settings import Settings, SettingsError
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


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel shows them) with a socket listening on
    ``port``: what is bound, not what the log says."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


async def test_the_sandbox_listens_on_loopback_whatever_the_api_listens_on(
    database_url: str, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The container image sets DIARY_HTTP_HOST=0.0.0.0; the sandbox's page reads every chat,
    so it stays on 127.0.0.1 unless DIARY_SANDBOX_HOST says otherwise."""
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_SANDBOX_PORT": "0",
            "DIARY_HTTP_HOST": "0.0.0.0",
        }
    )
    caplog.set_level(logging.INFO)
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        assert (await client.get("/healthz")).status == 200
        banner = [r.getMessage() for r in caplog.records if "SANDBOX MODE" in r.getMessage()]
        page = banner[0].rsplit(" ", 1)[-1]
        assert page.startswith("http://127.0.0.1:"), page
        port = int(page.split(":")[2].split("/")[0])
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        async with ClientSession() as http:
            assert (await http.get(page)).status == 200


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


async def test_a_taken_default_port_falls_back_to_a_free_one(
    database_url: str, clock: FixedClock, caplog: pytest.LogCaptureFixture, taken_port: int
) -> None:
    settings = Settings.from_env({"DIARY_DATABASE_URL": database_url})
    assert not settings.sandbox_port_explicit
    settings = replace(settings, sandbox_port=taken_port)  # as if 8081 were the taken one
    caplog.set_level(logging.INFO)
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        assert (await client.get("/healthz")).status == 200
        fallback = [r.getMessage() for r in caplog.records if "is taken" in r.getMessage()]
        assert len(fallback) == 1 and f"port {taken_port} is taken" in fallback[0]
        url = fallback[0].split(" listens on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(f":{taken_port}")
        async with ClientSession() as http:
            assert (await http.get(url + "/sandbox/")).status == 200


async def test_a_taken_explicit_port_stops_start_up(
    database_url: str, clock: FixedClock, taken_port: int
) -> None:
    settings = Settings.from_env(
        {"DIARY_DATABASE_URL": database_url, "DIARY_SANDBOX_PORT": str(taken_port)}
    )
    runner = web.AppRunner(create_app(settings, clock=clock))
    try:
        with pytest.raises(SettingsError, match=f"DIARY_SANDBOX_PORT {taken_port} cannot be used"):
            await runner.setup()
    finally:
        await runner.cleanup()
