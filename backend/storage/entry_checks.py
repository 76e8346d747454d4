"""Diary entries queued for the alert rules (migration 0013): queued by the answer that stored
the entry, taken and deleted by the alert checker in the transaction that raises the alerts."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg


async def queue(conn: asyncpg.Connection, region: str, entry_id: UUID) -> None:
    """Queue the entry (a correction of one still queued is checked once, as it is then)."""
    await conn.execute(
        """
        INSERT INTO entry_checks (entry_id, region) VALUES ($1, $2)
        ON CONFLICT (entry_id) DO NOTHING
        """,
        entry_id,
        region,
    )


async def oldest(conn: asyncpg.Connection, limit: int) -> list[tuple[str, UUID, int]]:
    """Up to ``limit`` queued entries, oldest first: (region, entry id, failed attempts)."""
    rows = await conn.fetch(
        """
        SELECT region, entry_id, attempts FROM entry_checks WHERE given_up_at IS NULL
        ORDER BY queued_at, entry_id LIMIT $1
        """,
        limit,
    )
    return [(row["region"], row["entry_id"], row["attempts"]) for row in rows]


async def done(conn: asyncpg.Connection, entry_ids: Sequence[UUID]) -> None:
    await conn.execute("DELETE FROM entry_checks WHERE entry_id = ANY($1::UUID[])", entry_ids)


async def take(conn: asyncpg.Connection, entry_id: UUID) -> bool:
    """Take one queued entry off the queue; False if it is not (or no longer) queued."""
    rows = await conn.fetch(
        """
        DELETE FROM entry_checks WHERE entry_id = $1 AND given_up_at IS NULL
        RETURNING entry_id
        """,
        entry_id,
    )
    return bool(rows)


async def give_up(conn: asyncpg.Connection, entry_id: UUID) -> None:
    await conn.execute("UPDATE entry_checks SET given_up_at = now() WHERE entry_id = $1", entry_id)


async def failed(conn: asyncpg.Connection, entry_id: UUID) -> int:
    """Count a failed check; return the attempts so far."""
    rows = await conn.fetch(
        """
        UPDATE entry_checks SET attempts = attempts + 1 WHERE entry_id = $1 RETURNING attempts
        """,
        entry_id,
    )
    return rows[0]["attempts"] if rows else 0


async def pending(conn: asyncpg.Connection) -> int:
    rows = await conn.fetch("SELECT count(*) AS n FROM entry_checks WHERE given_up_at IS NULL")
    return rows[0]["n"]
