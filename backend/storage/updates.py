"""Telegram updates already applied (Telegram redelivers after timeouts and restarts), and
those whose processing failed (counted, and parked when retrying does not mend them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg


async def claim_update(conn: asyncpg.Connection, update_key: str) -> bool:
    """Record the update; False if it was processed before. Call inside the effect's transaction."""
    rows = await conn.fetch(
        """
        INSERT INTO processed_updates (update_key) VALUES ($1)
        ON CONFLICT (update_key) DO NOTHING RETURNING update_key
        """,
        update_key,
    )
    return bool(rows)


async def prune_updates(conn: asyncpg.Connection, older_than: timedelta, limit: int) -> int:
    """Forget up to ``limit`` updates processed ``older_than`` ago; returns how many.

    Telegram keeps an unconfirmed update for 24 hours, so one recorded days ago can no longer
    be redelivered and its row only costs space. On the database clock, which wrote
    ``processed_at`` (its column default) and which every instance shares."""
    return await _prune(conn, "processed_updates", "processed_at", older_than, limit)


async def record_failure(conn: asyncpg.Connection, update_key: str, error: str) -> int:
    """Count one more failed attempt at the update; return how many there have been. On the
    database clock, like ``processed_at``: every instance that gets a redelivery agrees."""
    rows = await conn.fetch(
        """
        INSERT INTO failed_updates (update_key, error) VALUES ($1, $2)
        ON CONFLICT (update_key) DO UPDATE SET
            attempts = failed_updates.attempts + 1, error = excluded.error,
            last_failed_at = now()
        RETURNING attempts
        """,
        update_key,
        error,
    )
    return rows[0]["attempts"]


async def mark_parked(conn: asyncpg.Connection, update_key: str, error: str) -> None:
    """The update is given up: kept with its key and error type for an operator."""
    await conn.execute(
        """
        INSERT INTO failed_updates (update_key, error, parked_at) VALUES ($1, $2, now())
        ON CONFLICT (update_key) DO UPDATE SET
            error = excluded.error, last_failed_at = now(), parked_at = now()
        """,
        update_key,
        error,
    )


@dataclass(frozen=True)
class FailedUpdate:
    update_key: str
    attempts: int
    error: str
    first_failed_at: datetime
    last_failed_at: datetime
    parked_at: datetime | None


async def find_failed(
    conn: asyncpg.Connection, *, parked_only: bool, limit: int
) -> list[FailedUpdate]:
    """The most recent failures (or only the parked updates), newest first."""
    rows = await conn.fetch(
        """
        SELECT update_key, attempts, error, first_failed_at, last_failed_at, parked_at
        FROM failed_updates WHERE parked_at IS NOT NULL OR NOT $1
        ORDER BY last_failed_at DESC LIMIT $2
        """,
        parked_only,
        limit,
    )
    return [FailedUpdate(**dict(row)) for row in rows]


async def prune_failures(conn: asyncpg.Connection, older_than: timedelta, limit: int) -> int:
    """Forget up to ``limit`` failure records last touched ``older_than`` ago."""
    return await _prune(conn, "failed_updates", "last_failed_at", older_than, limit)


async def _prune(
    conn: asyncpg.Connection, table: str, column: str, older_than: timedelta, limit: int
) -> int:
    """Delete up to ``limit`` rows keyed by ``update_key`` whose ``column`` is ``older_than``
    on the database clock; return how many. ``table`` and ``column`` are this module's own."""
    rows = await conn.fetch(
        f"""
        DELETE FROM {table} WHERE update_key IN (
            SELECT update_key FROM {table} WHERE {column} < now() - $1::INTERVAL LIMIT $2
        )
        RETURNING update_key
        """,
        older_than,
        limit,
    )
    return len(rows)
