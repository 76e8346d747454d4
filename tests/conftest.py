"""Shared fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_URL), a fresh database per
test module with the migrations applied, and SERIALIZABLE as the default isolation.

TEST_POSTGRESQL_OVERLAY=1 partitions every module's database by region after migrating
(sql/overlays/postgresql): the whole suite must pass that way too (.ci/run does both)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from backend.config.regions import load_regions
from backend.config.settings import DEFAULT_REGIONS_FILE, Settings
from backend.domain.clock import FixedClock
from backend.i18n import catalogs
from backend.server import create_app
from backend.services.context import RegionDirectory, ServiceContext, Signal
from backend.services.staff import create_staff
from backend.services.totp_secrets import TotpKeys
from backend.storage.database import Database
from backend.storage.embedded import start_embedded
from backend.storage.migrations import migrate
from backend.storage.overlays import apply_postgresql_partitioning
from backend.storage.regions import upsert_regions
from bot.sandbox import SandboxBotApi
from tests.dates import share_faked_clock_state


def pytest_configure(config: pytest.Config) -> None:
    share_faked_clock_state()  # under make test-dates; before any process of another account


# A Thursday in winter: Europe/Berlin is UTC+1.
NOW = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


@pytest.fixture(scope="session")
async def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PostgreSQL server for the whole run: TEST_DATABASE_URL, else an embedded one."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        return external
    return await start_embedded(tmp_path_factory.mktemp("pg"), database="postgres")


async def create_database(server_url: str) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        # Even statements outside our transaction helper run SERIALIZABLE, as on CockroachDB.
        await conn.execute(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'serializable'"
        )
    finally:
        await conn.close()
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
async def database_url(server_url: str) -> str:
    """A fresh, migrated database for one test module."""
    url = await create_database(server_url)
    db = await Database.connect(url)
    try:
        await migrate(db)
        await db.transaction(upsert_regions, list(load_regions(DEFAULT_REGIONS_FILE).values()))
        if os.environ.get("TEST_POSTGRESQL_OVERLAY"):
            await apply_postgresql_partitioning(db)
    finally:
        await db.close()
    return url


@pytest.fixture(scope="module")
async def empty_database_url(server_url: str) -> str:
    """A fresh database without any schema."""
    return await create_database(server_url)


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(database_url)
    yield database
    await database.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def headers(ctx: ServiceContext) -> dict[str, str]:
    """An administrator's bearer token, for tests that register cases and start rounds."""
    created = await create_staff(ctx, "Admin", "admin", [])
    return {"Authorization": f"Bearer {created.token}"}


@pytest.fixture
def ctx(db: Database, clock: FixedClock) -> ServiceContext:
    return ServiceContext(
        db=db,
        regions=RegionDirectory(load_regions(DEFAULT_REGIONS_FILE)),
        clock=clock,
        languages=catalogs().languages,
        outbox=Signal(),
        totp_keys=TotpKeys.generate(),  # console sign-ins encrypt TOTP secrets with it
    )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


BOT_TOKEN = "123456:TEST-token-for-the-loopback-server"
BOT_USERNAME = "DiaryTestBot"


@pytest.fixture
async def bot_api() -> AsyncIterator[SandboxBotApi]:
    """The loopback Bot API server, playing Telegram and its users."""
    server = SandboxBotApi(token=BOT_TOKEN, bot_username=BOT_USERNAME)
    await server.start(host="127.0.0.1", port=0)
    yield server
    await server.stop()


@pytest.fixture
def service_settings(database_url: str, bot_api: SandboxBotApi, repo_root: Path) -> Settings:
    """Settings as an operator would give them, pointing the bot at the loopback server."""
    return Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
            "DIARY_HTTP_PORT": "0",
        }
    )


@pytest.fixture
async def service(service_settings: Settings, clock: FixedClock) -> AsyncIterator[TestClient]:
    """The whole service (API, bot, sender) on a real loopback HTTP server. The regional
    schedules are left out: these tests start rounds themselves (see test_scheduling.py)."""
    app = create_app(service_settings, clock=clock, schedule=False)
    async with TestClient(TestServer(app)) as client:
        yield client
