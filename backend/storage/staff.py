"""Staff members, their regions and their bearer tokens (hashes only)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from backend.domain.staff import StaffMember


async def insert_member(
    conn: asyncpg.Connection, name: str, role: str, regions: Iterable[str]
) -> UUID:
    rows = await conn.fetch(
        "INSERT INTO staff_members (name, role) VALUES ($1, $2) RETURNING id", name, role
    )
    staff_id = rows[0]["id"]
    for region in regions:
        await conn.execute(
            "INSERT INTO staff_regions (staff_id, region) VALUES ($1, $2)", staff_id, region
        )
    return staff_id


async def insert_token(
    conn: asyncpg.Connection,
    staff_id: UUID,
    token_hash: str,
    created_at: datetime,
    expires_at: datetime,
) -> Token:
    """A new token; both moments come from the service clock, which also checks them."""
    rows = await conn.fetch(
        """
        INSERT INTO staff_tokens (staff_id, token_hash, created_at, expires_at)
        VALUES ($1, $2, $3, $4)
        RETURNING id, created_at, expires_at, revoked_at
        """,
        staff_id,
        token_hash,
        created_at,
        expires_at,
    )
    return _token(rows[0])


async def get_by_token_hash(
    conn: asyncpg.Connection, token_hash: str, now: datetime
) -> StaffMember | None:
    """The active member owning a token valid (unrevoked, unexpired) at ``now``, or None.
    ``now`` is the service clock that also wrote ``expires_at`` (backend/domain/clock.py)."""
    rows = await conn.fetch(
        """
        SELECT m.id, m.name, m.role
        FROM staff_tokens t JOIN staff_members m ON m.id = t.staff_id
        WHERE t.token_hash = $1
          AND t.revoked_at IS NULL
          -- Tokens made before every token had to expire get the default lifetime.
          AND coalesce(t.expires_at, t.created_at + INTERVAL '180 days') > $2
          AND m.disabled_at IS NULL
        """,
        token_hash,
        now,
    )
    if not rows:
        return None
    return await _member(conn, rows[0])


async def get_member(conn: asyncpg.Connection, staff_id: UUID) -> StaffMember | None:
    """An active staff member with their regions, or None."""
    rows = await conn.fetch(
        "SELECT id, name, role FROM staff_members WHERE id = $1 AND disabled_at IS NULL",
        staff_id,
    )
    return await _member(conn, rows[0]) if rows else None


async def _member(conn: asyncpg.Connection, member: asyncpg.Record) -> StaffMember:
    if member["role"] == "admin":
        region_rows = await conn.fetch("SELECT id AS region FROM regions")
    else:
        region_rows = await conn.fetch(
            "SELECT region FROM staff_regions WHERE staff_id = $1", member["id"]
        )
    return StaffMember(
        id=member["id"],
        name=member["name"],
        role=member["role"],
        regions=frozenset(r["region"] for r in region_rows),
    )


@dataclass(frozen=True)
class Token:
    id: UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Member:
    id: UUID
    name: str
    role: str
    regions: tuple[str, ...]
    created_at: datetime
    telegram_linked: bool


def _token(row: asyncpg.Record) -> Token:
    return Token(row["id"], row["created_at"], row["expires_at"], row["revoked_at"])


async def list_members(conn: asyncpg.Connection) -> list[Member]:
    rows = await conn.fetch(
        """
        SELECT m.id, m.name, m.role, m.created_at, m.telegram_user_id IS NOT NULL AS linked,
               coalesce((SELECT jsonb_agg(r.region ORDER BY r.region) FROM staff_regions r
                         WHERE r.staff_id = m.id), '[]'::JSONB) AS regions
        FROM staff_members m WHERE m.disabled_at IS NULL ORDER BY m.created_at, m.id
        """
    )
    return [
        Member(
            r["id"],
            r["name"],
            r["role"],
            tuple(json.loads(r["regions"])),
            r["created_at"],
            r["linked"],
        )
        for r in rows
    ]


async def tokens_of(conn: asyncpg.Connection, staff_id: UUID) -> list[Token]:
    rows = await conn.fetch(
        """
        SELECT id, created_at, expires_at, revoked_at FROM staff_tokens
        WHERE staff_id = $1 ORDER BY created_at, id
        """,
        staff_id,
    )
    return [_token(r) for r in rows]


async def revoke_token(conn: asyncpg.Connection, token_id: UUID, now: datetime) -> UUID | None:
    """Revoke an active token; the id of the member it belonged to, or None if there was no
    such active token."""
    rows = await conn.fetch(
        """
        UPDATE staff_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL
        RETURNING staff_id
        """,
        token_id,
        now,
    )
    return rows[0]["staff_id"] if rows else None


async def assigned_regions(conn: asyncpg.Connection, staff_id: UUID) -> list[str]:
    """The regions a member was given (none for an admin, who reaches all of them)."""
    rows = await conn.fetch(
        "SELECT region FROM staff_regions WHERE staff_id = $1 ORDER BY region", staff_id
    )
    return [row["region"] for row in rows]


async def change_member(
    conn: asyncpg.Connection, staff_id: UUID, role: str, regions: Iterable[str]
) -> tuple[str, list[str]] | None:
    """Give an active member another role and regions; what they had before (role, regions),
    or None if there is no such active member."""
    rows = await conn.fetch(
        "SELECT role FROM staff_members WHERE id = $1 AND disabled_at IS NULL FOR UPDATE",
        staff_id,
    )
    if not rows:
        return None
    before = (rows[0]["role"], await assigned_regions(conn, staff_id))
    await conn.execute("UPDATE staff_members SET role = $2 WHERE id = $1", staff_id, role)
    await conn.execute("DELETE FROM staff_regions WHERE staff_id = $1", staff_id)
    for region in regions:
        await conn.execute(
            "INSERT INTO staff_regions (staff_id, region) VALUES ($1, $2)", staff_id, region
        )
    return before


async def other_admins(conn: asyncpg.Connection, staff_id: UUID) -> int:
    """How many active administrators there are besides this member."""
    rows = await conn.fetch(
        """
        SELECT count(*) AS n FROM staff_members
        WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1
        """,
        staff_id,
    )
    return rows[0]["n"]


async def disable(conn: asyncpg.Connection, staff_id: UUID, now: datetime) -> list[str] | None:
    """Offboard a member: disabled, every token and console session revoked, the Telegram
    account unlinked (so the group no longer takes their Claim, Resolve or /broadcast). Their
    regions, or None if there is no such active member."""
    rows = await conn.fetch(
        """
        UPDATE staff_members SET disabled_at = $2, telegram_user_id = NULL
        WHERE id = $1 AND disabled_at IS NULL RETURNING id
        """,
        staff_id,
        now,
    )
    if not rows:
        return None
    for table in ("staff_tokens", "console_sessions"):  # tokens and console sign-ins end
        await conn.execute(
            f"UPDATE {table} SET revoked_at = $2 WHERE staff_id = $1 AND revoked_at IS NULL",
            staff_id,
            now,
        )
    return await assigned_regions(conn, staff_id)
