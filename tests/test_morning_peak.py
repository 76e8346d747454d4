"""The morning peak (issue 18): many citizens press at once, and every answer is kept.

300 people answer the day's prompt with one tap, all at the same moment, through the real
python-telegram-bot and the loopback Bot API server: by webhook into one instance (40
deliveries at once, never two of one chat, as Telegram does), by webhook spread over two
``serve --role api`` processes on one database, and by long polling. Each answer is stored
exactly once and each person's press is answered. Then what happens when it goes wrong: a
failure at COMMIT is not confirmed and is processed on redelivery; an update that can never
succeed is parked after its attempts, and only then is the person told "sorry".

Failures are injected by the database itself, with a deferred constraint trigger on this test
module's own database (PL/pgSQL is fine here, never in the service's schema).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from backend.config.settings import Settings
from backend.domain.clock import FixedClock
from backend.server import RUNNING, create_app
from backend.services.staff import create_staff
from backend.storage.database import Database
from bot.sandbox import SandboxBotApi, SandboxUser
from tests.conftest import BOT_TOKEN
from tests.rounds import new_round
from tests.test_end_to_end import button_data, has_button
from tests.test_instances import free_port, is_ready
from tests.waiting import eventually

CITIZENS = 300
SECRET = "peak-secret-for-the-webhook-0123456789"
HOOK = "/telegram/webhook"
THANKS = "Thank you!"
SORRY = "Sorry, something went wrong on our side. Please try again in a minute."
CLI = Path(sys.executable).with_name("symptom-diary")


async def seed(db: Database, region: str, chats: range, today: datetime) -> list[UUID]:
    """Active cases bound to ``chats``, in quarantine on ``today`` (the service's clock)."""
    day = today.date()
    rows = await db.fetch(
        """
        INSERT INTO cases (region, kind, status, quarantine_start, quarantine_end, language,
                           chat_id, activated_at, silence_alerted)
        SELECT $1, 'contact', 'active', $2::DATE - 2, $2::DATE + 10, 'en', chat, $3, FALSE
        FROM unnest($4::INT8[]) AS chat
        RETURNING id
        """,
        region,
        day,
        today,
        list(chats),
    )
    return [row["id"] for row in rows]


async def staff_token(db: Database, clock_now: datetime) -> str:
    """An admin's bearer token, made by the service's own use case."""
    from backend.config.regions import load_regions
    from backend.config.settings import DEFAULT_REGIONS_FILE
    from backend.services.context import RegionDirectory, ServiceContext, Signal

    ctx = ServiceContext(
        db=db,
        regions=RegionDirectory(load_regions(DEFAULT_REGIONS_FILE)),
        clock=FixedClock(clock_now),
        languages=("en",),
        outbox=Signal(),
    )
    return (await create_staff(ctx, "Peak", "admin", [])).token


async def everyone_presses_well(bot_api: SandboxBotApi, chats: range, timeout: float = 60) -> dict:
    """Wait for every person's prompt, then all press "all well" in the same instant (the
    updates are queued for the bot before any is delivered); return query id -> person."""
    people = [bot_api.user(chat, "Citizen", "en") for chat in chats]
    prompts = await asyncio.gather(
        *(person.wait_for_message(has_button("well"), timeout=timeout) for person in people)
    )
    queries = {}
    for person, prompt in zip(people, prompts, strict=True):
        query = await person.press(prompt, button_data(prompt, "well"))
        queries[query["id"]] = person
    return queries


async def answers_to(bot_api: SandboxBotApi, queries: dict, timeout: float = 90) -> dict:
    """Every press's answers, once each has one (query id -> the texts it was answered with)."""

    def answered() -> dict | None:
        found: dict[str, list] = {}
        for answer in bot_api.state.callback_answers:
            if answer["callback_query_id"] in queries:
                found.setdefault(answer["callback_query_id"], []).append(answer["text"])
        return found if len(found) == len(queries) else None

    result = await bot_api.state.changed.wait_for(answered, timeout)
    assert result is not None, "not every press was answered"
    return result


async def assert_each_answer_kept_once(db: Database, cases: list[UUID], answers: dict) -> None:
    rows = await db.fetch(
        "SELECT case_id, count(*) AS n FROM diary_entries WHERE case_id = ANY($1::UUID[]) "
        "GROUP BY case_id",
        cases,
    )
    assert len(rows) == len(cases), f"{len(cases) - len(rows)} answers lost"
    assert {row["n"] for row in rows} == {1}
    assert all(texts == [THANKS] for texts in answers.values())


def peak_settings(database_url: str, bot_api: SandboxBotApi, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
            "DIARY_PAID_BROADCAST": "true",  # 300 prompts in a third of a second
            **extra,
        }
    )


@contextlib.asynccontextmanager
async def running(
    mode: str, database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> AsyncIterator[TestClient]:
    """The whole service in paid-broadcast mode, receiving by ``webhook`` or ``polling``."""
    if mode == "webhook":
        port = free_port()
        extra = {"DIARY_WEBHOOK_URL": f"http://127.0.0.1:{port}{HOOK}"}
        extra["DIARY_WEBHOOK_SECRET"] = SECRET
        server = TestServer(
            create_app(peak_settings(database_url, bot_api, **extra), clock=clock, schedule=False),
            host="127.0.0.1",
            port=port,
        )
    else:
        server = TestServer(
            create_app(peak_settings(database_url, bot_api), clock=clock, schedule=False)
        )
    async with TestClient(server) as client:
        yield client


@pytest.fixture
async def webhook_service(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> AsyncIterator[TestClient]:
    async with running("webhook", database_url, bot_api, clock) as client:
        yield client


async def test_300_presses_at_once_by_webhook(
    webhook_service: TestClient, bot_api: SandboxBotApi, clock: FixedClock, db: Database
) -> None:
    chats = range(9_100_001, 9_100_001 + CITIZENS)
    cases = await seed(db, "de-koeln", chats, clock.now())
    await new_round(webhook_service, "de-koeln")
    queries = await everyone_presses_well(bot_api, chats)
    answers = await answers_to(bot_api, queries)
    await assert_each_answer_kept_once(db, cases, answers)
    assert bot_api.webhook.max_connections == 40
    assert "getUpdates" not in bot_api.stats


async def test_300_presses_at_once_by_long_polling(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock, db: Database
) -> None:
    chats = range(9_200_001, 9_200_001 + CITIZENS)
    cases = await seed(db, "de-muenchen", chats, clock.now())
    async with running("polling", database_url, bot_api, clock) as service:
        await new_round(service, "de-muenchen")
        await _everyone_answered_once(bot_api, chats, cases, db)


async def _everyone_answered_once(
    bot_api: SandboxBotApi, chats: range, cases: list[UUID], db: Database
) -> None:
    queries = await everyone_presses_well(bot_api, chats)
    answers = await answers_to(bot_api, queries)
    await assert_each_answer_kept_once(db, cases, answers)
    queue = bot_api.state.updates  # every update confirmed, by the next getUpdates
    assert await queue.signal.wait_for(lambda: True if not queue.pending else None, 10)


async def round_robin(targets: list[str]) -> tuple[web.AppRunner, str, list[int]]:
    """A load balancer at the edge of the network: each webhook POST to the next instance."""
    counts = [0] * len(targets)
    session = aiohttp.ClientSession()

    async def forward(request: web.Request) -> web.Response:
        index = sum(counts) % len(targets)
        counts[index] += 1
        async with session.post(
            targets[index], data=await request.read(), headers=request.headers
        ) as answer:
            return web.Response(status=answer.status, body=await answer.read())

    app = web.Application()
    app.router.add_post(HOOK, forward)
    app.on_cleanup.append(lambda _: session.close())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}{HOOK}", counts


async def serve(role: str, env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(CLI), "serve", "--role", role, env={**env, "DIARY_HTTP_PORT": str(port)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def test_300_presses_at_once_spread_over_two_api_instances(
    database_url: str, bot_api: SandboxBotApi, db: Database
) -> None:
    """Two ``serve --role api`` processes behind a round-robin balancer receive the webhook;
    a third sends. They run on the wall clock: the cases' dates are relative to it."""
    chats = range(9_300_001, 9_300_001 + CITIZENS)
    now = datetime.now(UTC)
    cases = await seed(db, "de-berlin-mitte", chats, now)
    ports = [free_port(), free_port(), free_port()]
    balancer, hook_url, counts = await round_robin(
        [f"http://127.0.0.1:{port}{HOOK}" for port in ports[:2]]
    )
    env = {
        **os.environ,
        "DIARY_DATABASE_URL": database_url,
        "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
        "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        "DIARY_PAID_BROADCAST": "true",
        "DIARY_WEBHOOK_URL": hook_url,
        "DIARY_WEBHOOK_SECRET": SECRET,
        "DIARY_LOG_LEVEL": "WARNING",
    }
    processes = [
        await serve("api", env, ports[0]),
        await serve("api", env, ports[1]),
        await serve("sender", env, ports[2]),
    ]
    try:
        for port in ports:
            await eventually(lambda port=port: is_ready(port), f"the instance on {port} ready")
        await eventually(lambda: _webhook_set(bot_api, hook_url), "the webhook registered")
        token = await staff_token(db, now)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"http://127.0.0.1:{ports[0]}/api/v1/regions/de-berlin-mitte/rounds",
                headers={"Authorization": f"Bearer {token}"},
            ) as answer:
                assert answer.status in (200, 201, 202), await answer.text()
        queries = await everyone_presses_well(bot_api, chats)
        answers = await answers_to(bot_api, queries)
        await assert_each_answer_kept_once(db, cases, answers)
        assert min(counts) >= CITIZENS // 3, counts  # both instances took a real share
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)
        await balancer.cleanup()


async def _webhook_set(bot_api: SandboxBotApi, url: str) -> bool:
    return bot_api.webhook.url == url


# -- when it goes wrong -------------------------------------------------------------------

FAULTS = """
CREATE TABLE IF NOT EXISTS injected_faults (
    case_id UUID PRIMARY KEY, times INT4 NOT NULL, errcode TEXT NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS injected_fault_count;
CREATE OR REPLACE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE allowed INT4; code TEXT;
BEGIN
    SELECT times, errcode INTO allowed, code FROM injected_faults WHERE case_id = NEW.case_id;
    -- nextval is not rolled back with the failed transaction: it counts the attempts.
    IF allowed IS NOT NULL AND (allowed < 0 OR nextval('injected_fault_count') <= allowed) THEN
        RAISE EXCEPTION 'injected failure at commit' USING ERRCODE = code;
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS fail_at_commit ON diary_entries;
CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON diary_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();
"""


async def inject(db: Database, case_id: UUID, times: int, errcode: str = "XX000") -> None:
    """The next ``times`` COMMITs storing an entry of the case fail with ``errcode`` (-1:
    every one): XX000 an internal error (a bug), 40001 a serialization failure."""
    async with db.pool.acquire() as conn:
        await conn.execute(FAULTS)
        await conn.execute("SELECT setval('injected_fault_count', 1, false)")
        await conn.execute(
            "INSERT INTO injected_faults (case_id, times, errcode) VALUES ($1, $2, $3) "
            "ON CONFLICT (case_id) DO UPDATE SET times = excluded.times, "
            "errcode = excluded.errcode",
            case_id,
            times,
            errcode,
        )


async def one_person(
    db: Database, bot_api: SandboxBotApi, region: str, chat: int, now: datetime, name: str
) -> tuple[UUID, SandboxUser]:
    [case_id] = await seed(db, region, range(chat, chat + 1), now)
    return case_id, bot_api.user(chat, name, "en")


@pytest.mark.parametrize(
    ("mode", "errcode", "times", "error"),
    [
        ("webhook", "XX000", 1, "InternalServerError"),
        # A conflict at COMMIT more often than the transaction retries (8 attempts): the
        # update is not confirmed either, and the next delivery commits.
        ("webhook", "40001", 9, "SerializationError"),
        ("polling", "40001", 9, "SerializationError"),
    ],
)
async def test_a_failure_at_commit_is_not_confirmed_and_is_processed_on_redelivery(
    database_url: str,
    bot_api: SandboxBotApi,
    clock: FixedClock,
    db: Database,
    mode: str,
    errcode: str,
    times: int,
    error: str,
) -> None:
    async with running(mode, database_url, bot_api, clock) as service:
        await _commit_fails_then_succeeds(service, bot_api, clock, db, mode, errcode, times, error)


async def _commit_fails_then_succeeds(
    service: TestClient,
    bot_api: SandboxBotApi,
    clock: FixedClock,
    db: Database,
    mode: str,
    errcode: str,
    times: int,
    error: str,
) -> None:
    chat = {"XX000": 9_400_001, "40001": 9_400_011}[errcode] + (mode == "polling")
    case_id, person = await one_person(db, bot_api, "ua-kyiv", chat, clock.now(), "Olena")
    await inject(db, case_id, times=times, errcode=errcode)
    await new_round(service, "ua-kyiv")
    prompt = await person.wait_for_message(has_button("well"))
    query = await person.press(prompt, button_data(prompt, "well"))
    update_id = bot_api.state.updates.next_update_id - 1  # the press's update
    answers = await answers_to(bot_api, {query["id"]: person})
    queue = bot_api.state.updates
    assert await queue.signal.wait_for(lambda: True if not queue.pending else None, 10)
    if mode == "webhook":
        # Telegram (the loopback server) was told 500 and delivered the update again.
        assert (bot_api.webhook.last_error_message or "").startswith(
            "Wrong response from the webhook: 500"
        )
    assert answers == {query["id"]: [THANKS]}  # one answer, and no "sorry"
    rows = await db.fetch("SELECT count(*) AS n FROM diary_entries WHERE case_id = $1", case_id)
    assert rows[0]["n"] == 1
    failures = await db.fetch(
        "SELECT attempts, error, parked_at FROM failed_updates WHERE update_key LIKE $1",
        f"{update_id}:%",
    )
    assert [tuple(row) for row in failures] == [(1, error, None)]


def query_update_id(bot_api: SandboxBotApi, query: dict) -> int:
    for update in bot_api.webhook.delivered:
        if update.get("callback_query", {}).get("id") == query["id"]:
            return update["update_id"]
    raise AssertionError("the press was never delivered")


async def test_an_update_that_always_fails_is_parked_and_only_then_sorry(
    webhook_service: TestClient,
    bot_api: SandboxBotApi,
    clock: FixedClock,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_name = "Zofia-Poison-Name"
    case_id, person = await one_person(db, bot_api, "ua-kyiv", 9_400_002, clock.now(), secret_name)
    await inject(db, case_id, times=-1)
    parked = ("diary_updates_parked_total", {"error": "InternalServerError"})
    before = REGISTRY.get_sample_value(*parked) or 0.0
    await new_round(webhook_service, "ua-kyiv")
    prompt = await person.wait_for_message(has_button("well"))
    with caplog.at_level(logging.INFO):
        query = await person.press(prompt, button_data(prompt, "well"))
        answers = await answers_to(bot_api, {query["id"]: person}, timeout=60)
    assert answers == {query["id"]: [SORRY]}  # told once, after the last attempt
    queue = bot_api.state.updates  # confirmed at last (the 200 may come after the "sorry")
    assert await queue.signal.wait_for(lambda: True if not queue.pending else None, 10)
    update_id = query_update_id(bot_api, query)
    rows = await db.fetch(
        "SELECT attempts, error, parked_at FROM failed_updates WHERE update_key LIKE $1",
        f"{update_id}:%",
    )
    assert len(rows) == 1 and rows[0]["attempts"] == 5 and rows[0]["parked_at"] is not None
    assert rows[0]["error"] == "InternalServerError"
    assert REGISTRY.get_sample_value(*parked) == before + 1
    entries = await db.fetch("SELECT count(*) AS n FROM diary_entries WHERE case_id = $1", case_id)
    assert entries[0]["n"] == 0
    assert f"update {update_id} parked" in caplog.text
    assert secret_name not in caplog.text  # a log line without content
    # Delivered once more (Telegram may): it is done, nobody is told twice.
    data = next(u for u in bot_api.webhook.delivered if u["update_id"] == update_id)
    outcome = await webhook_service.app[RUNNING].processor().process(data)
    assert outcome.confirm
    sorry = await db.fetch(
        "SELECT count(*) AS n FROM outbox "
        "WHERE kind = 'answer_callback' AND chat_id = $1 AND payload->>'query' = $2",
        person.user_id,
        query["id"],
    )
    assert sorry[0]["n"] == 1
