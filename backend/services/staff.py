"""Staff accounts and bearer-token authentication."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from backend.domain.errors import Invalid
from backend.domain.staff import ROLES, StaffMember, hash_token, new_token
from backend.services.context import ServiceContext
from backend.storage import staff as staff_store


@dataclass(frozen=True)
class NewStaff:
    staff_id: UUID
    token: str  # shown once, never stored


async def create_staff(
    ctx: ServiceContext, name: str, role: str, regions: Sequence[str]
) -> NewStaff:
    """Create a staff member with one token. Staff and viewers need at least one region."""
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("name", "name must have 1 to 200 characters.")
    if role not in ROLES:
        raise Invalid("role", f"role must be one of {', '.join(ROLES)}.")
    unknown = [r for r in regions if ctx.regions.get(r) is None]
    if unknown:
        raise Invalid(
            "region", f"unknown region {unknown[0]!r}; known: {', '.join(ctx.regions.ids())}."
        )
    if role != "admin" and not regions:
        raise Invalid("region", f"a {role} needs at least one --region.")
    token = new_token()

    async def store(conn: asyncpg.Connection) -> UUID:
        staff_id = await staff_store.insert_member(conn, name, role, sorted(set(regions)))
        await staff_store.insert_token(conn, staff_id, hash_token(token))
        return staff_id

    return NewStaff(staff_id=await ctx.db.transaction(store), token=token)


async def authenticate(ctx: ServiceContext, token: str) -> StaffMember | None:
    """The staff member a bearer token belongs to, or None for an unknown or revoked token."""
    return await ctx.db.transaction(staff_store.get_by_token_hash, hash_token(token))
