"""Staff broadcasts: created and expanded in one transaction, followed, cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from backend.domain.broadcasts import validate_texts
from backend.domain.errors import Invalid, NotFound
from backend.domain.messages import Priority
from backend.domain.staff import StaffMember
from backend.services.context import ServiceContext
from backend.storage import broadcasts as store
from backend.storage.broadcasts import Broadcast, Progress


@dataclass(frozen=True)
class BroadcastStatus:
    broadcast: Broadcast
    progress: Progress


async def create_broadcast(
    ctx: ServiceContext,
    staff: StaffMember,
    regions: list[str],
    texts: dict[str, str],
    kind: str | None = None,
    urgent: bool = False,
) -> BroadcastStatus:
    """Create a broadcast with one delivery per monitored chat; the sender takes it from there."""
    if not regions:
        raise Invalid("regions", "regions needs at least one region id.")
    for region_id in regions:
        if region_id not in staff.regions or ctx.regions.get(region_id) is None:
            raise Invalid("regions", f"unknown region {region_id!r}.")
        staff.require_write(region_id)
    regions = sorted(set(regions))
    cleaned = validate_texts(texts, [ctx.regions.require(r) for r in regions], ctx.languages)

    async def create(conn: asyncpg.Connection) -> BroadcastStatus:
        broadcast_id, _ = await create_in(conn, staff, regions, cleaned, kind, urgent)
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
) -> tuple[UUID, int]:
    """Create and expand a broadcast inside the caller's transaction (texts already checked);
    return its id and the number of deliveries."""
    # Urgent notices go before routine prompts; ordinary ones after them.
    priority = Priority.PROMPT if urgent else Priority.BROADCAST
    broadcast_id = await store.insert(
        conn, staff.id, regions, texts, {"kind": kind} if kind else {}, urgent
    )
    total = await store.expand(conn, broadcast_id, regions, texts, kind, urgent, int(priority))
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
