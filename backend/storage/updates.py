"""Telegram updates already applied (Telegram redelivers after timeouts and restarts)."""

from __future__ import annotations

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
