"""The transaction helper retries serialization failures and deadlocks, and only those."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from prometheus_client import REGISTRY

from backend.storage.database import (
    UNAVAILABLE,
    Database,
    RetryPolicy,
    asyncpg_url,
    engine_of,
)


@pytest.fixture(scope="module", autouse=True)
async def counter_table(db: Database) -> None:
    async with db.pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS test_counter (name TEXT PRIMARY KEY, value INT8 NOT NULL)"
        )
        await conn.execute("CREATE TABLE IF NOT EXISTS test_log (id UUID PRIMARY KEY)")


async def test_injected_40001_is_retried_and_writes_once(db: Database) -> None:
    attempts = 0
    marker = "5c0b1f4e-0000-4000-8000-000000000001"

    async def body(conn: asyncpg.Connection) -> str:
        nonlocal attempts
        attempts += 1
        await conn.execute("INSERT INTO test_log (id) VALUES ($1::UUID)", marker)
        if attempts == 1:
            # A real 40001 from the server, as CockroachDB sends at any statement or COMMIT.
            await conn.execute(
                "DO $$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '40001'; END $$"
            )
        return "done"

    retries_before = db.retries
    retried = ("diary_transaction_retries_total", {"work": "other"})
    metric_before = REGISTRY.get_sample_value(*retried) or 0.0
    assert await db.transaction(body) == "done"
    assert attempts == 2
    assert db.retries == retries_before + 1
    assert REGISTRY.get_sample_value(*retried) == metric_before + 1
    rows = await db.fetch("SELECT count(*) AS n FROM test_log WHERE id = $1::UUID", marker)
    assert rows[0]["n"] == 1


async def test_concurrent_read_modify_write_conflicts_are_retried(db: Database) -> None:
    await db.fetch(
        "INSERT INTO test_counter (name, value) VALUES ('c', 0) "
        "ON CONFLICT (name) DO UPDATE SET value = 0"
    )
    both_read = asyncio.Barrier(2)
    first_attempts = {"a", "b"}

    async def increment(conn: asyncpg.Connection, who: str) -> None:
        rows = await conn.fetch("SELECT value FROM test_counter WHERE name = 'c'")
        if who in first_attempts:
            # The first attempts overlap: both read before either writes, so SERIALIZABLE
            # must abort one of them; its retry then runs alone.
            first_attempts.discard(who)
            await both_read.wait()
        await conn.execute(
            "UPDATE test_counter SET value = $1 WHERE name = 'c'", rows[0]["value"] + 1
        )

    retries_before = db.retries
    await asyncio.gather(db.transaction(increment, "a"), db.transaction(increment, "b"))
    rows = await db.fetch("SELECT value FROM test_counter WHERE name = 'c'")
    assert rows[0]["value"] == 2
    assert db.retries > retries_before


async def test_other_errors_are_not_retried(db: Database) -> None:
    attempts = 0

    async def body(conn: asyncpg.Connection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute("SELECT 1/0")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await db.transaction(body)
    assert attempts == 1


async def test_retries_are_bounded(database_url: str) -> None:
    db = await Database.connect(database_url)
    db.retry = RetryPolicy(attempts=3, base_delay=0.001)
    attempts = 0

    async def always_conflicting(conn: asyncpg.Connection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$")

    try:
        with pytest.raises(asyncpg.DeadlockDetectedError):
            await db.transaction(always_conflicting)
    finally:
        await db.close()
    assert attempts == 3


async def test_transactions_are_serializable(db: Database) -> None:
    async def isolation(conn: asyncpg.Connection) -> str:
        rows = await conn.fetch("SHOW transaction_isolation")
        return rows[0][0]

    assert await db.transaction(isolation) == "serializable"


def test_urls_and_engines() -> None:
    assert asyncpg_url("cockroachdb://u@h:26257/d") == "postgresql://u@h:26257/d"
    assert asyncpg_url("postgres://u@h/d") == "postgres://u@h/d"
    assert engine_of("CockroachDB CCL v24.3.1 (x86_64-pc-linux-gnu)") == "cockroachdb"
    assert engine_of("PostgreSQL 11.2-YB-2.20.0.0-b0 on x86_64") == "yugabytedb"
    assert engine_of("PostgreSQL 16.2 on x86_64-pc-linux-gnu") == "postgresql"
    assert RetryPolicy(base_delay=0.01, max_delay=0.05).delay(10) <= 0.05


async def test_keyed_work_waits_out_a_lost_connection_and_runs_once(database_url: str) -> None:
    """The server ends the connection mid-transaction (as a failover does): a plain
    transaction gives up, keyed work runs again on a new connection, and its key keeps the
    second run from doing anything the first one committed."""
    db = await Database.connect(database_url)
    marker = "5c0b1f4e-0000-4000-8000-00000000f417"
    runs = 0

    async def body(conn: asyncpg.Connection, cut_off: bool) -> bool:
        nonlocal runs
        runs += 1
        done = await conn.fetch(
            "INSERT INTO test_log (id) VALUES ($1::UUID) ON CONFLICT DO NOTHING RETURNING id",
            marker,
        )
        if cut_off and runs == 1:
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return bool(done)

    try:
        with pytest.raises(UNAVAILABLE):  # 57P01, or the closed connection it leaves
            await db.transaction(body, True)
        runs = 0
        assert await db.keyed_transaction(body, True) is True and runs == 2
        # Once committed, the key answers: a re-run (an unknown COMMIT outcome) does nothing.
        assert await db.keyed_transaction(body, False) is False
        rows = await db.fetch("SELECT count(*) AS n FROM test_log WHERE id = $1::UUID", marker)
        assert rows[0]["n"] == 1
    finally:
        await db.close()
