"""Telegram updates already applied (Telegram redelivers after timeouts and restarts)."""

from __future__ import annotations

from datetime import datetime

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


async def prune_updates(conn: asyncpg.Connection, processed_before: datetime, limit: int) -> int:
    """Forget up to ``limit`` updates processed before ``processed_before``; returns how many.

    Telegram keeps an unconfirmed update for 24 hours, so one recorded days ago can no longer
    be redelivered and its row only costs space."""
    rows = await conn.fetch(
        """
        DELETE FROM processed_updates WHERE update_key IN (
            SELECT update_key FROM processed_updates WHERE processed_at < $1 LIMIT $2
        )
        RETURNING update_key
        """,
        processed_before,
        limit,
    )
    return len(rows)
