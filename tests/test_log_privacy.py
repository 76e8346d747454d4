"""No personal data and no secret in any log line: a full run, from registration to an alert,
with every logger of ours at DEBUG, then every captured line is searched."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestClient, TestServer

from backend.config.settings import Settings
from backend.domain.clock import FixedClock
from backend.logs import PathOnlyAccessLogger, configure_logging, quiet_libraries
from backend.server import create_app
from backend.services import signin
from backend.services.context import ServiceContext
from backend.services.staff import create_staff
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN
from tests.console_browser import PASSWORD as console_password
from tests.console_browser import Browser, first_sign_in
from tests.rounds import new_round
from tests.test_end_to_end import has_button

PASSWORD = "S3cret-Passw0rd-42"
NAME, PHONE, STREET = "Maximilian Mustermann", "0170 1234567", "Hauptstraße 5"


def _ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the service logged (the sandbox plays Telegram and its users: not ours)."""
    return [r for r in caplog.records if not r.name.startswith("bot.sandbox")]


def _assert_none_in(records: list[logging.LogRecord], forbidden: list[str]) -> None:
    """No forbidden value in any record's message or traceback."""
    for record in records:
        line = record.getMessage()
        if record.exc_info:
            line += logging.Formatter().formatException(record.exc_info)
        for value in forbidden:
            assert value not in line, f"{record.name}: {line[:200]}"


@pytest.fixture
async def private_service(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> AsyncIterator[TestClient]:
    # A password in the URL (ignored by the test server's trust authentication).
    url = database_url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    assert PASSWORD in url
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        }
    )
    async with TestClient(TestServer(create_app(settings, clock=clock, schedule=False))) as client:
        yield client


async def test_a_full_run_logs_nothing_personal_or_secret(
    private_service: TestClient,
    bot_api: SandboxBotApi,
    ctx: ServiceContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    quiet_libraries("DEBUG")
    token = (await create_staff(ctx, "Privacy Officer", "staff", ["de-koeln"])).token
    headers = {"Authorization": f"Bearer {token}"}
    response = await private_service.post(
        "/api/v1/cases",
        json={
            "region": "de-koeln",
            "kind": "contact",
            "quarantine_start": "2026-11-24",
            "quarantine_end": "2026-12-07",
            "language": "en",
            "staff_reference": "AZ-777",
            "label": "Kind 1",
        },
        headers=headers,
    )
    case = await response.json()
    code = case["activation_code"]
    citizen = bot_api.user(8801, NAME, "en")
    await citizen.send_command("start", code)
    await citizen.wait_for_message()
    await new_round(private_service, "de-koeln")
    prompt = await citizen.wait_for_message(has_button("well"))
    await citizen.press_button(prompt, "I don't feel well")
    checklist = await citizen.wait_for_message(has_button("done"))
    await citizen.press_button(checklist, "Cough")
    checklist = await citizen.wait_for_message(lambda m: "✅ Cough" in str(m))
    await citizen.press_button(checklist, "Done")
    await citizen.wait_for_message(has_button("nomeas"))
    await citizen.send_text("38.7")
    trend = await citizen.wait_for_message(has_button("worse"))
    await citizen.press_button(trend, "Worse")
    await citizen.wait_for_message(has_button("skip"))
    await citizen.send_text(f"Call me at {PHONE}, I live at {STREET}")
    summary = await citizen.wait_for_message(has_button("send"))
    await citizen.press_button(summary, "Send")
    await citizen.wait_for_message(has_button("correct"))
    await private_service.get(f"/api/v1/cases/{case['id']}/entries", headers=headers)
    await private_service.get("/api/v1/escalations", headers=headers)
    await private_service.get("/api/v1/cases", headers={"Authorization": "Bearer sd_guess"})

    forbidden = [
        NAME,
        "Mustermann",
        PHONE,
        "0170",
        STREET,
        "Hauptstra",
        "38.7",
        "38,7",
        token,
        code,
        BOT_TOKEN.split(":")[1],
        PASSWORD,
        "Kind 1",
        "AZ-777",
    ]
    ours = _ours(caplog)
    assert len(ours) > 10  # the run did log: the check below is not vacuous
    _assert_none_in(ours, forbidden)


def test_the_token_is_taken_out_of_every_log_line_and_traceback() -> None:
    """The last line of defence: whatever a library puts into a message or an exception."""
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream, secrets=[BOT_TOKEN, None])
    try:
        url = f"http://127.0.0.1:1/bot{BOT_TOKEN}/getMe"
        try:
            raise ValueError(url)
        except ValueError:
            logging.getLogger("backend.test").exception("request to %s failed", url)
        logging.getLogger("backend.test").warning("encoded: %s", quote(BOT_TOKEN, safe=""))
    finally:
        configure_logging("WARNING")
    text = stream.getvalue()
    assert BOT_TOKEN not in text and quote(BOT_TOKEN, safe="") not in text
    assert text.count("<token>") == 3  # message, traceback, encoded


async def test_console_requests_log_nothing_personal_or_secret(
    database_url: str,
    bot_api: SandboxBotApi,
    ctx: ServiceContext,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Signing in, registering, searching, reading and resolving through the console, with
    the access log as ``serve`` writes it."""
    caplog.set_level(logging.DEBUG)
    quiet_libraries("DEBUG")
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        }
    )
    server = TestServer(create_app(settings, clock=clock, schedule=False))
    await server.start_server(access_log_class=PathOnlyAccessLogger)
    _, temporary = await signin.create_member(
        ctx, "Privacy Officer", "staff", ["de-koeln"], "privacy.officer", None
    )
    session = ClientSession(base_url=str(server.make_url("/")), cookie_jar=CookieJar(unsafe=True))
    async with session:
        browser = Browser(session)
        secret = await first_sign_in(browser, "privacy.officer", temporary, clock.now())
        await browser.get("/console/cases/new")
        today = ctx.regions.require("de-koeln").local_date(clock.now())
        handover = await browser.post(
            "/console/cases",
            {
                "region": "de-koeln",
                "kind": "contact",
                "quarantine_start": today.isoformat(),
                "quarantine_end": (today + timedelta(days=9)).isoformat(),
                "staff_reference": "AZ-888",
                "label": "Kind 2",
            },
        )
        code = re.search(r"start=([\w-]+)", handover.html).group(1)
        case_id = re.search(r'href="/console/cases/([0-9a-f-]{36})"', handover.html).group(1)
        await browser.get("/console/cases?q=AZ-888")
        await browser.get(f"/console/cases/{case_id}")
        page = await browser.get("/console/")
        await browser.post("/console/sign-out")
        await browser.get("/console/sign-in")
        # A wrong password (here the name) is refused without being logged.
        await browser.post("/console/sign-in", {"login": "privacy.officer", "password": NAME})
    await server.close()

    forbidden = [
        console_password,
        temporary,
        secret,
        page.csrf,
        code,
        "AZ-888",
        "Kind 2",
        NAME,
        "Mustermann",
    ]
    ours = _ours(caplog)
    assert any(r.name == "aiohttp.access" for r in ours)  # the access log was written
    _assert_none_in(ours, forbidden)
