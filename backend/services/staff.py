"""Staff accounts and their bearer tokens: created, listed, revoked; authentication."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from backend.domain.errors import Conflict, Invalid, NotFound
from backend.domain.staff import (
    DEFAULT_TOKEN_DAYS,
    ROLES,
    StaffMember,
    hash_token,
    new_token,
    token_days_problem,
)
from backend.services import audit
from backend.services.context import ServiceContext
from backend.storage import staff as staff_store
from backend.storage.staff import Member, Token


@dataclass(frozen=True)
class NewStaff:
    staff_id: UUID
    token: str | None  # shown once, never stored
    token_info: Token | None = None


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once, never stored
    info: Token


LAST_ADMIN = "the last administrator cannot lose the role; name another first."


def _validate(ctx: ServiceContext, name: str, role: str, regions: Sequence[str]) -> str:
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
    return name


async def create_staff(
    ctx: ServiceContext,
    name: str,
    role: str,
    regions: Sequence[str],
    token_days: int | None = DEFAULT_TOKEN_DAYS,
    actor: StaffMember | None = None,
    also: Callable[[asyncpg.Connection, UUID], Awaitable[None]] | None = None,
) -> NewStaff:
    """A staff member with one token (none if ``token_days`` is None), audited. Staff and
    viewers need at least one region. ``actor`` None: an operator at the command line.
    ``also(conn, staff_id)`` runs in the same transaction (a console sign-in, say)."""
    name = _validate(ctx, name, role, regions)
    if token_days is not None:
        _require_lifetime("token_days", token_days)
    regions = sorted(set(regions))

    async def store(conn: asyncpg.Connection) -> NewStaff:
        now = ctx.clock.now()
        staff_id = await staff_store.insert_member(conn, name, role, regions)
        token = await _issue(ctx, conn, staff_id, token_days) if token_days is not None else None
        await record(
            conn,
            actor,
            "staff.create",
            regions,
            now,
            staff=str(staff_id),
            role=role,
            **(
                {"token": str(token.info.id), "expires_at": _iso(token.info.expires_at)}
                if token
                else {}
            ),
        )
        if also is not None:
            await also(conn, staff_id)
        return NewStaff(
            staff_id=staff_id,
            token=token.token if token else None,
            token_info=token.info if token else None,
        )

    return await ctx.db.transaction(store)


def _require_lifetime(field: str, days: int) -> None:
    problem = token_days_problem(days)
    if problem:
        raise Invalid(field, problem)


async def _issue(
    ctx: ServiceContext, conn: asyncpg.Connection, staff_id: UUID, days: int
) -> NewToken:
    token = new_token()
    now = ctx.clock.now()
    expires_at = now + timedelta(days=days)
    info = await staff_store.insert_token(conn, staff_id, hash_token(token), now, expires_at)
    return NewToken(token, info)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def issue_token(
    ctx: ServiceContext,
    staff_id: UUID,
    days: int = DEFAULT_TOKEN_DAYS,
    actor: StaffMember | None = None,
) -> NewToken:
    """A new bearer token for an active member, audited under the member's regions."""
    _require_lifetime("days", days)

    async def store(conn: asyncpg.Connection) -> NewToken:
        if await staff_store.get_member(conn, staff_id) is None:
            raise NotFound(f"staff member {staff_id} not found.")
        issued = await _issue(ctx, conn, staff_id, days)
        await record(
            conn,
            actor,
            "token.create",
            await staff_store.assigned_regions(conn, staff_id),
            ctx.clock.now(),
            staff=str(staff_id),
            token=str(issued.info.id),
            expires_at=_iso(issued.info.expires_at),
        )
        return issued

    return await ctx.db.transaction(store)


async def list_tokens(ctx: ServiceContext, staff_id: UUID) -> list[Token]:
    async def read(conn: asyncpg.Connection) -> list[Token]:
        if await staff_store.get_member(conn, staff_id) is None:
            raise NotFound(f"staff member {staff_id} not found.")
        return await staff_store.tokens_of(conn, staff_id)

    return await ctx.db.transaction(read)


async def revoke_token(
    ctx: ServiceContext, token_id: UUID, actor: StaffMember | None = None
) -> None:
    """Revoke a token, audited under its member's regions."""
    now = ctx.clock.now()

    async def store(conn: asyncpg.Connection) -> None:
        staff_id = await staff_store.revoke_token(conn, token_id, now)
        if staff_id is None:
            raise NotFound(f"token {token_id} not found or already revoked.")
        regions = await staff_store.assigned_regions(conn, staff_id)
        await record(
            conn, actor, "token.revoke", regions, now, staff=str(staff_id), token=str(token_id)
        )

    await ctx.db.transaction(store)


async def list_staff(ctx: ServiceContext) -> list[Member]:
    return await ctx.db.transaction(staff_store.list_members)


async def member(ctx: ServiceContext, staff_id: UUID) -> Member:
    for found in await list_staff(ctx):
        if found.id == staff_id:
            return found
    raise NotFound(f"staff member {staff_id} not found.")


async def authenticate(ctx: ServiceContext, token: str) -> StaffMember | None:
    """The staff member a bearer token belongs to, or None for an unknown or revoked token."""
    return await ctx.db.transaction(
        staff_store.get_by_token_hash, hash_token(token), ctx.clock.now()
    )


async def record(
    conn: asyncpg.Connection,
    actor: StaffMember | None,
    action: str,
    regions: Sequence[str],
    now: datetime,
    **detail: object,
) -> None:
    """Audit a change to staff accounts, once per region concerned ('' for none: an admin).
    ``actor`` None: an operator at the command line."""
    for region in regions or [""]:
        await audit.record(conn, actor, action, region, now, **detail)


async def change_staff(
    ctx: ServiceContext,
    staff_id: UUID,
    role: str,
    regions: Sequence[str],
    actor: StaffMember | None,
) -> Member:
    """Another role or other regions for a member (a move to another team, say), audited in
    every region concerned. Their console sessions, tokens and Telegram link stay: every
    request reads the member's rights afresh. The last administrator stays one."""
    current = await member(ctx, staff_id)
    _validate(ctx, current.name, role, regions)
    regions = [] if role == "admin" else sorted(set(regions))

    async def store(conn: asyncpg.Connection) -> None:
        before = await staff_store.change_member(conn, staff_id, role, regions)
        if before is None:
            raise NotFound(f"staff member {staff_id} not found or disabled.")
        old_role, old_regions = before
        demoted = old_role == "admin" and role != "admin"
        if demoted and not await staff_store.other_admins(conn, staff_id):
            raise Conflict(LAST_ADMIN)  # and the change is rolled back with the transaction
        await record(
            conn,
            actor,
            "staff.change",
            sorted(set(old_regions) | set(regions)),
            ctx.clock.now(),
            staff=str(staff_id),
            before={"role": old_role, "regions": old_regions},
            after={"role": role, "regions": regions},
        )

    await ctx.db.transaction(store)
    return await member(ctx, staff_id)


async def disable_staff(ctx: ServiceContext, staff_id: UUID, actor: StaffMember | None) -> None:
    """Offboarding: the member can no longer sign in or act in an authority group."""
    now = ctx.clock.now()

    async def store(conn: asyncpg.Connection) -> None:
        regions = await staff_store.disable(conn, staff_id, now)
        if regions is None:
            raise NotFound(f"staff member {staff_id} not found or already disabled.")
        await record(conn, actor, "staff.disable", regions, now, staff=str(staff_id))

    await ctx.db.transaction(store)
