"""Start-up problems stop the service with one sentence naming what to fix."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web

from backend.config.settings import Settings, SettingsError
from backend.domain.clock import FixedClock
from backend.server import create_app
from bot.sandbox import SandboxBotApi


async def start(settings: Settings, clock: FixedClock) -> None:
    runner = web.AppRunner(create_app(settings, clock=clock))
    try:
        await runner.setup()
    finally:
        await runner.cleanup()


async def test_a_refused_token(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": "999:wrong-token",
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        }
    )
    with pytest.raises(SettingsError, match="refused DIARY_TELEGRAM_TOKEN"):
        await start(settings, clock)


async def test_an_unreachable_bot_api(database_url: str, clock: FixedClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": "999:token",
            "DIARY_TELEGRAM_API_URL": f"http://127.0.0.1:{port}/bot",
        }
    )
    with pytest.raises(SettingsError, match="cannot be reached"):
        await start(settings, clock)


async def test_an_unmigrated_database(
    empty_database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": empty_database_url,
            "DIARY_TELEGRAM_TOKEN": "999:token",
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        }
    )
    with pytest.raises(Exception, match="run `symptom-diary migrate` first"):
        await start(settings, clock)
