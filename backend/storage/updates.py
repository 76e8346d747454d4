"""Telegram updates already applied (Telegram redelivers after timeouts and restarts)."""

from __future__ import annotations

from datetime import timedelta

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
    rows = await conn.fetch(
        """
        DELETE FROM processed_updates WHERE update_key IN (
            SELECT update_key FROM processed_updates
            WHERE processed_at < now() - $1::INTERVAL LIMIT $2
        )
        RETURNING update_key
        """,
        older_than,
        limit,
    )
    return len(rows)
