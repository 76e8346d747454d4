"""Telegram update ids already applied (Telegram redelivers after timeouts and restarts)."""

from __future__ import annotations

import asyncpg


async def claim_update(conn: asyncpg.Connection, update_id: int) -> bool:
    """Record the update; False if it was processed before. Call inside the effect's transaction."""
    rows = await conn.fetch(
        """
        INSERT INTO processed_updates (update_id) VALUES ($1)
        ON CONFLICT (update_id) DO NOTHING RETURNING update_id
        """,
        update_id,
    )
    return bool(rows)
