"""Start-up problems stop the service with one sentence naming what to fix."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from aiohttp import web

from backend.config.settings import Settings, SettingsError
from backend.domain.clock import FixedClock
from backend.server import create_app
from bot import runtime
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN


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


async def test_an_unreachable_bot_api(
    database_url: str,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(runtime, "GETME_PATIENCE", 1.0)  # a few tries, not half a minute
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
    assert "cannot be reached yet" in caplog.text  # tried more than once


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


async def test_getme_is_retried_while_the_bot_api_is_not_ready(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    """The Bot API server may start at the same time as we do: 5xx and refused connections
    are retried for a while (here two 502s), then the service starts."""
    bot_api.fail_next("getMe", 502, count=2)
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        }
    )
    await start(settings, clock)
    assert bot_api.stats["getMe"] == 3


async def test_a_getme_answer_without_a_username(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    bot_api.answer_next(
        "getMe", {"ok": True, "result": {"id": 123456, "is_bot": True, "first_name": "B"}}
    )
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        }
    )
    with pytest.raises(SettingsError, match="without a username"):
        await start(settings, clock)


async def test_best_effort_calls_may_fail_in_any_way(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """setMyCommands and deleteWebhook answered with something PTB cannot parse: start anyway."""
    bot_api.answer_next("setMyCommands", {"ok": False})
    bot_api.answer_next("deleteWebhook", "not json at all", status=502)
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        }
    )
    await start(settings, clock)
    assert "could not set the command menu (KeyError" in caplog.text
    assert "deleteWebhook failed" in caplog.text
    assert BOT_TOKEN not in caplog.text


async def test_the_token_never_appears_in_an_error(
    database_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API URL without /bot glues the token to the port: aiohttp's error quotes the URL."""
    monkeypatch.setattr(runtime, "GETME_PATIENCE", 0.0)
    token = "123456:SECRET-part-of-the-token"
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": token,
            "DIARY_TELEGRAM_API_URL": "http://127.0.0.1:28185",
        }
    )
    with pytest.raises(SettingsError) as raised:
        await start(settings, clock)
    message = str(raised.value)
    assert "SECRET" not in message and "<token>" in message
    assert "DIARY_TELEGRAM_API_URL" in message


EXTERNAL = "postgresql://diary:pw@db.example.org:5432/diary"


def test_the_sandbox_refuses_a_database_on_another_machine() -> None:
    """The sandbox's chat page reads every chat: pointed by mistake (a token forgotten) at the
    real database, it would show real people's conversations to whoever opens it."""
    with pytest.raises(SettingsError) as refused:
        create_app(Settings.from_env({"DIARY_DATABASE_URL": EXTERNAL}))
    message = str(refused.value)
    assert "DIARY_TELEGRAM_TOKEN" in message and "DIARY_SANDBOX_ALLOW_EXTERNAL_DATABASE" in message
    assert "pw" not in message and "\n" not in message
    # Allowed explicitly, with a real bot, or in a role that starts no bot: no refusal.
    create_app(
        Settings.from_env(
            {"DIARY_DATABASE_URL": EXTERNAL, "DIARY_SANDBOX_ALLOW_EXTERNAL_DATABASE": "true"}
        )
    )
    create_app(Settings.from_env({"DIARY_DATABASE_URL": EXTERNAL, "DIARY_TELEGRAM_TOKEN": "1:a"}))
    create_app(Settings.from_env({"DIARY_DATABASE_URL": EXTERNAL, "DIARY_ROLE": "scheduler"}))


def test_the_embedded_database_refuses_a_service_listening_beyond_loopback(
    tmp_path: Path,
) -> None:
    """The embedded PostgreSQL is for trying out; a service others can reach holds real data."""
    env = {"DIARY_DATA_DIR": str(tmp_path), "DIARY_HTTP_HOST": "0.0.0.0"}
    with pytest.raises(SettingsError) as refused:
        create_app(Settings.from_env(env))
    message = str(refused.value)
    assert message.startswith("DIARY_HTTP_HOST ") and "DIARY_DATABASE_URL" in message
    assert "DIARY_EMBEDDED_DATABASE_ALLOW_NON_LOOPBACK" in message
    assert not any(tmp_path.iterdir())  # refused before the embedded server was started
    # On loopback, or allowed explicitly (a container's trial run): no refusal.
    create_app(Settings.from_env(env | {"DIARY_HTTP_HOST": "127.0.0.1"}))
    create_app(Settings.from_env(env | {"DIARY_EMBEDDED_DATABASE_ALLOW_NON_LOOPBACK": "true"}))
