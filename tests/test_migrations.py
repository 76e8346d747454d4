"""Migrations: applied once, idempotent statement by statement, and a newer schema refused."""

from __future__ import annotations

import re

import pytest

from backend.storage.database import Database
from backend.storage.migrations import (
    SchemaError,
    check_schema,
    load_migrations,
    migrate,
    schema_status,
)

FORBIDDEN = [
    r"\bSERIAL\b",
    r"\bBIGSERIAL\b",
    r"\bSEQUENCE\b",
    r"\bIDENTITY\b",
    r"\bCREATE\s+TRIGGER\b",
    r"\bLISTEN\b",
    r"\bNOTIFY\b",
    r"pg_advisory",
    r"\bLANGUAGE\s+plpgsql\b",
    r"\bCREATE\s+(OR\s+REPLACE\s+)?FUNCTION\b",
    r"\bCREATE\s+TYPE\b",
    r"\bJSON\b(?!B)",
    r"\b(TEXT|INT[248]?|UUID|BOOL|DATE|TIMESTAMPTZ|NUMERIC)\s*\[\]",  # array columns
]


def test_migrations_follow_the_portable_sql_rules() -> None:
    for migration in load_migrations():
        for statement in migration.statements:
            assert re.match(
                r"^(CREATE (TABLE|INDEX|UNIQUE INDEX) IF NOT EXISTS"
                r"|ALTER TABLE \w+ ADD COLUMN IF NOT EXISTS"
                r"|ALTER TABLE \w+ ALTER COLUMN \w+ SET DEFAULT)",  # the same again changes nothing
                statement,
            ), f"{migration.name}: not idempotent: {statement[:60]}"
            for pattern in FORBIDDEN:
                assert not re.search(pattern, statement, re.IGNORECASE), (
                    f"{migration.name}: {pattern} is not portable: {statement[:60]}"
                )


async def test_migrate_applies_everything_once(empty_database_url: str) -> None:
    db = await Database.connect(empty_database_url)
    try:
        with pytest.raises(SchemaError, match="run `symptom-diary migrate`"):
            await check_schema(db)
        applied = await migrate(db)
        assert [m.version for m in applied] == [m.version for m in load_migrations()]
        assert await migrate(db) == []
        status = await check_schema(db)
        assert status.current and status.applied == len(load_migrations())

        # Cut off half-way: every statement can simply run again.
        async with db.pool.acquire() as conn:
            await conn.execute("DELETE FROM schema_migrations")
        assert len(await migrate(db)) == len(load_migrations())
    finally:
        await db.close()


async def test_a_newer_schema_is_refused(empty_database_url: str) -> None:
    db = await Database.connect(empty_database_url)
    try:
        await migrate(db)
        async with db.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')"
            )
        with pytest.raises(SchemaError, match="run a newer release"):
            await check_schema(db)
        with pytest.raises(SchemaError, match="refusing to touch it"):
            await migrate(db)
        assert not (await schema_status(db)).current
    finally:
        async with db.pool.acquire() as conn:
            await conn.execute("DELETE FROM schema_migrations WHERE version = 999")
        await db.close()


async def test_citizen_tables_put_the_region_first(db: Database) -> None:
    rows = await db.fetch(
        """
        SELECT c.conrelid::regclass::TEXT AS tbl, c.contype,
               (SELECT a.attname FROM pg_attribute a
                WHERE a.attrelid = c.conrelid AND a.attnum = c.conkey[1]) AS first_column
        FROM pg_constraint c
        WHERE c.contype IN ('p', 'u')
          AND c.conrelid::regclass::TEXT IN
              ('cases', 'activation_codes', 'rounds', 'prompts', 'diary_entries', 'outbox')
        """
    )
    assert len(rows) >= 6
    for row in rows:
        assert row["first_column"] == "region", (
            f"{row['tbl']} key starts with {row['first_column']}"
        )
