"""Authority groups bound to regions, staff accounts linked to Telegram, one-time link codes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def insert_code(
    conn: asyncpg.Connection,
    code_hash: str,
    purpose: str,
    expires_at: datetime,
    *,
    staff_id: UUID | None = None,
    region: str | None = None,
    created_by: UUID | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO link_codes (code_hash, purpose, staff_id, region, created_by, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        code_hash,
        purpose,
        staff_id,
        region,
        created_by,
        expires_at,
    )


async def use_code(
    conn: asyncpg.Connection, code_hash: str, purpose: str, now: datetime
) -> asyncpg.Record | None:
    """Spend a valid code once (one conditional update); its staff id or region, or None."""
    rows = await conn.fetch(
        """
        UPDATE link_codes SET used_at = $3
        WHERE code_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
        RETURNING staff_id, region
        """,
        code_hash,
        purpose,
        now,
    )
    return rows[0] if rows else None


async def code_owner(
    conn: asyncpg.Connection, code_hash: str, purpose: str, now: datetime
) -> asyncpg.Record | None:
    """A valid code's staff id and region, without spending it (to check who may use it)."""
    rows = await conn.fetch(
        """
        SELECT staff_id, region FROM link_codes
        WHERE code_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
        """,
        code_hash,
        purpose,
        now,
    )
    return rows[0] if rows else None


async def link_staff(conn: asyncpg.Connection, staff_id: UUID, telegram_user_id: int) -> None:
    """One Telegram account per staff member, one staff member per account."""
    await conn.execute(
        "UPDATE staff_members SET telegram_user_id = NULL WHERE telegram_user_id = $1",
        telegram_user_id,
    )
    await conn.execute(
        "UPDATE staff_members SET telegram_user_id = $2 WHERE id = $1", staff_id, telegram_user_id
    )


async def staff_id_for_telegram(conn: asyncpg.Connection, telegram_user_id: int) -> UUID | None:
    rows = await conn.fetch(
        "SELECT id FROM staff_members WHERE telegram_user_id = $1 AND disabled_at IS NULL",
        telegram_user_id,
    )
    return rows[0]["id"] if rows else None


async def bind_group(conn: asyncpg.Connection, region: str, chat_id: int) -> None:
    """The region's authority group is ``chat_id`` from now on (a group serves one region)."""
    await conn.execute(
        "DELETE FROM region_groups WHERE chat_id = $1 AND region <> $2", chat_id, region
    )
    # The chat is speaking to us under this id, so an older record of it moving away is stale;
    # left in place, current_chat_id would send the region's alerts after it.
    await conn.execute("DELETE FROM chat_migrations WHERE old_chat_id = $1", chat_id)
    await conn.execute(
        """
        INSERT INTO region_groups (region, chat_id) VALUES ($1, $2)
        ON CONFLICT (region) DO UPDATE SET chat_id = excluded.chat_id, bound_at = now()
        """,
        region,
        chat_id,
    )


async def bound_group(conn: asyncpg.Connection, region: str) -> int | None:
    rows = await conn.fetch("SELECT chat_id FROM region_groups WHERE region = $1", region)
    return rows[0]["chat_id"] if rows else None


async def region_of_group(conn: asyncpg.Connection, chat_id: int) -> str | None:
    rows = await conn.fetch("SELECT region FROM region_groups WHERE chat_id = $1", chat_id)
    return rows[0]["region"] if rows else None


# Telegram migrates a group to a supergroup once; a short chain is followed in case an id was
# recorded twice, and the bound keeps a bad row from looping.
_MAX_MIGRATIONS = 3


async def current_chat_id(conn: asyncpg.Connection, chat_id: int) -> int:
    """The id a chat has now: ``chat_id`` followed through recorded group migrations."""
    for _ in range(_MAX_MIGRATIONS):
        rows = await conn.fetch(
            "SELECT new_chat_id FROM chat_migrations WHERE old_chat_id = $1", chat_id
        )
        if not rows or rows[0]["new_chat_id"] == chat_id:
            break
        chat_id = rows[0]["new_chat_id"]
    return chat_id


async def earlier_chat_ids(conn: asyncpg.Connection, chat_id: int) -> set[int]:
    """``chat_id`` and every id the chat had before it became a supergroup."""
    found, frontier = {chat_id}, {chat_id}
    for _ in range(_MAX_MIGRATIONS):
        rows = await conn.fetch(
            "SELECT old_chat_id FROM chat_migrations WHERE new_chat_id = ANY($1::INT8[])",
            list(frontier),
        )
        frontier = {row["old_chat_id"] for row in rows} - found
        if not frontier:
            break
        found |= frontier
    return found


async def insert_draft(
    conn: asyncpg.Connection, region: str, staff_id: UUID, text: str, now: datetime
) -> UUID:
    rows = await conn.fetch(
        """
        INSERT INTO broadcast_drafts (region, staff_id, text, created_at) VALUES ($1, $2, $3, $4)
        RETURNING id
        """,
        region,
        staff_id,
        text,
        now,
    )
    return rows[0]["id"]


async def decide_draft(
    conn: asyncpg.Connection, draft_id: UUID, region: str, now: datetime
) -> asyncpg.Record | None:
    """Take an undecided draft of ``region`` (once) made within the hour before ``now``; None
    if decided, stale or unknown. ``now`` is the service clock, which also wrote created_at."""
    rows = await conn.fetch(
        """
        UPDATE broadcast_drafts SET decided_at = $3
        WHERE id = $1 AND region = $2 AND decided_at IS NULL
          AND created_at > $3::TIMESTAMPTZ - INTERVAL '1 hour'
        RETURNING id, staff_id, text
        """,
        draft_id,
        region,
        now,
    )
    return rows[0] if rows else None


async def set_draft_broadcast(conn: asyncpg.Connection, draft_id: UUID, broadcast_id: UUID) -> None:
    await conn.execute(
        "UPDATE broadcast_drafts SET broadcast_id = $2 WHERE id = $1", draft_id, broadcast_id
    )
