"""Staff members, their regions and their bearer tokens (hashes only)."""

from __future__ import annotations

from collections.abc import Iterable
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


async def insert_token(conn: asyncpg.Connection, staff_id: UUID, token_hash: str) -> UUID:
    rows = await conn.fetch(
        "INSERT INTO staff_tokens (staff_id, token_hash) VALUES ($1, $2) RETURNING id",
        staff_id,
        token_hash,
    )
    return rows[0]["id"]


async def get_by_token_hash(conn: asyncpg.Connection, token_hash: str) -> StaffMember | None:
    """The active member owning a valid (unrevoked, unexpired) token, or None."""
    rows = await conn.fetch(
        """
        SELECT m.id, m.name, m.role
        FROM staff_tokens t JOIN staff_members m ON m.id = t.staff_id
        WHERE t.token_hash = $1
          AND t.revoked_at IS NULL
          AND (t.expires_at IS NULL OR t.expires_at > now())
          AND m.disabled_at IS NULL
        """,
        token_hash,
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
