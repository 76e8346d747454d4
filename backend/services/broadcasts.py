"""Staff broadcasts: created and expanded in one transaction, followed, cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from backend.domain.broadcasts import validate_texts
from backend.domain.errors import Invalid, NotFound
from backend.domain.messages import Priority
from backend.domain.staff import StaffMember
from backend.services import audit
from backend.services.context import ServiceContext
from backend.storage import broadcasts as store
from backend.storage.broadcasts import Broadcast, Progress


@dataclass(frozen=True)
class BroadcastStatus:
    broadcast: Broadcast
    progress: Progress


def _checked(
    ctx: ServiceContext, staff: StaffMember, regions: list[str], texts: dict[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The regions (the member's, to write to) and the texts, as a broadcast takes them."""
    if not regions:
        raise Invalid("regions", "regions needs at least one region id.")
    for region_id in regions:
        if region_id not in staff.regions or ctx.regions.get(region_id) is None:
            raise Invalid("regions", f"unknown region {region_id!r}.")
        staff.require_write(region_id)
    regions = sorted(set(regions))
    cleaned = validate_texts(texts, [ctx.regions.require(r) for r in regions], ctx.languages)
    return regions, cleaned


@dataclass(frozen=True)
class Preview:
    regions: list[str]
    texts: dict[str, str]
    recipients: int  # how many chats it would reach now


async def preview_broadcast(
    ctx: ServiceContext,
    staff: StaffMember,
    regions: list[str],
    texts: dict[str, str],
    kind: str | None = None,
    urgent: bool = False,
) -> Preview:
    """What ``create_broadcast`` would send, checked the same way, before staff confirm."""
    regions, cleaned = _checked(ctx, staff, regions, texts)
    count = await ctx.db.transaction(store.count_recipients, regions, kind, urgent)
    return Preview(regions, cleaned, count)


async def count_recipients(
    ctx: ServiceContext, staff: StaffMember, regions: list[str], kind: str | None, urgent: bool
) -> int:
    """How many chats a broadcast to the member's ``regions`` would reach now."""
    for region_id in regions:
        staff.require_read(region_id)
    return await ctx.db.transaction(store.count_recipients, sorted(set(regions)), kind, urgent)


async def create_broadcast(
    ctx: ServiceContext,
    staff: StaffMember,
    regions: list[str],
    texts: dict[str, str],
    kind: str | None = None,
    urgent: bool = False,
) -> BroadcastStatus:
    """Create a broadcast with one delivery per monitored chat; the sender takes it from there."""
    regions, cleaned = _checked(ctx, staff, regions, texts)

    async def create(conn: asyncpg.Connection) -> BroadcastStatus:
        broadcast_id, _ = await create_in(
            conn, staff, regions, cleaned, kind, urgent, now=ctx.clock.now()
        )
        return await _status(conn, regions, broadcast_id)

    status = await ctx.db.transaction(create)
    if status.broadcast.total:
        ctx.outbox.notify()
    return status


async def create_in(
    conn: asyncpg.Connection,
    staff: StaffMember,
    regions: list[str],
    texts: dict[str, str],
    kind: str | None = None,
    urgent: bool = False,
    *,
    now: datetime,
) -> tuple[UUID, int]:
    """Create and expand a broadcast inside the caller's transaction (texts already checked);
    return its id and the number of deliveries. In each region's audit log: who sent what,
    to how many (the texts are the authority's own words, not personal data)."""
    # Urgent notices go before routine prompts; ordinary ones after them.
    priority = Priority.PROMPT if urgent else Priority.BROADCAST
    broadcast_id = await store.insert(
        conn, staff.id, regions, texts, {"kind": kind} if kind else {}, urgent
    )
    total = await store.expand(conn, broadcast_id, regions, texts, kind, urgent, int(priority))
    for region in regions:
        await audit.record(
            conn,
            staff,
            "broadcast.create",
            region,
            now,
            broadcast=str(broadcast_id),
            texts=texts,
            kind=kind,
            urgent=urgent,
            recipients=total,
        )
    return broadcast_id, total


async def _found(conn: asyncpg.Connection, regions: list[str], broadcast_id: UUID) -> Broadcast:
    """The broadcast if ``regions`` reach it; otherwise it does not exist."""
    broadcast = await store.get(conn, regions, broadcast_id)
    if broadcast is None:
        raise NotFound(f"broadcast {broadcast_id} not found.")
    return broadcast


async def _status(
    conn: asyncpg.Connection, regions: list[str], broadcast_id: UUID
) -> BroadcastStatus:
    broadcast = await _found(conn, regions, broadcast_id)
    return BroadcastStatus(broadcast, await store.progress(conn, regions, broadcast_id))


async def get_broadcast(
    ctx: ServiceContext, staff: StaffMember, broadcast_id: UUID
) -> BroadcastStatus:
    """A broadcast all of whose regions the member may read; another looks like none."""

    async def read(conn: asyncpg.Connection) -> BroadcastStatus:
        return await _status(conn, staff.readable_regions(), broadcast_id)

    return await ctx.db.transaction(read)


async def cancel_broadcast(
    ctx: ServiceContext, staff: StaffMember, broadcast_id: UUID
) -> BroadcastStatus:
    async def cancel(conn: asyncpg.Connection) -> BroadcastStatus:
        # Found among the readable ones first, so a viewer of the regions hears "forbidden"
        # and everyone else "not found", as for cases.
        broadcast = await _found(conn, staff.readable_regions(), broadcast_id)
        for region in broadcast.regions:
            staff.require_write(region)
        await store.cancel(conn, staff.writable_regions(), broadcast_id)
        return await _status(conn, staff.readable_regions(), broadcast_id)

    return await ctx.db.transaction(cancel)


async def recent_broadcasts(
    ctx: ServiceContext, staff: StaffMember, limit: int = 20
) -> list[BroadcastStatus]:
    """The member's latest broadcasts (those all of whose regions they may read)."""
    regions = staff.readable_regions()

    async def read(conn: asyncpg.Connection) -> list[BroadcastStatus]:
        found = await store.recent(conn, regions, limit)
        return [BroadcastStatus(b, await store.progress(conn, regions, b.id)) for b in found]

    return await ctx.db.transaction(read)
