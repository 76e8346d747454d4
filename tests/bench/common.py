"""Shared set-up for the benchmarks: a fresh database with the schema and the regions."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from backend.config.regions import load_regions
from backend.config.settings import DEFAULT_REGIONS_FILE
from backend.storage.database import Database
from backend.storage.embedded import start_embedded
from backend.storage.migrations import migrate
from backend.storage.regions import upsert_regions

BENCH_DIR = Path(__file__).resolve().parents[2] / "var" / "bench"


async def fresh_database() -> Database:
    """A new database on BENCH_DATABASE_URL's server, else on an embedded one under var/bench."""
    server = os.environ.get("BENCH_DATABASE_URL") or await start_embedded(BENCH_DIR, "postgres")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, query = server.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    db = await Database.connect(url, max_size=8)
    await migrate(db)
    await db.transaction(upsert_regions, list(load_regions(DEFAULT_REGIONS_FILE).values()))
    db.name = name  # type: ignore[attr-defined]
    db.server = server  # type: ignore[attr-defined]
    return db


async def drop_database(db: Database) -> None:
    await db.close()
    conn = await asyncpg.connect(db.server)  # type: ignore[attr-defined]
    try:
        await conn.execute(f'DROP DATABASE "{db.name}"')  # type: ignore[attr-defined]
    finally:
        await conn.close()


async def insert_active_cases(db: Database, region: str, count: int, first_chat: int) -> None:
    """``count`` activated cases with distinct chats, in one statement."""
    async with db.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO cases (region, kind, status, quarantine_start, quarantine_end, language,
                               chat_id, activated_at)
            SELECT $1, 'contact', 'active', current_date - 3, current_date + 10,
                   (ARRAY['de', 'en', 'tr', 'uk'])[1 + n % 4], $3 + n, now()
            FROM generate_series(0, $2 - 1) AS n
            """,
            region,
            count,
            first_chat,
        )
        await conn.execute("VACUUM ANALYZE cases")


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def latency_summary(latencies: list[float]) -> dict:
    """How many alerts, and their p50, p99 and maximum latency in seconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "alerts": len(ordered),
        "p50_s": statistics.median(ordered),
        "p99_s": p99,
        "max_s": ordered[-1],
    }


def run(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(main())
