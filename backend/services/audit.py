"""Recording staff access to personal data, inside the transaction that reads or changes it:
no access without its record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.staff import StaffMember
from backend.services.context import ServiceContext
from backend.storage import audit as store
from backend.storage.audit import AuditEvent


async def record(
    conn: asyncpg.Connection,
    staff: StaffMember | None,
    action: str,
    region: str,
    now: datetime,
    case_id: UUID | None = None,
    /,
    **detail: Any,
) -> None:
    """``now`` is the application's time, kept in the detail; the record's own time is the
    database's. ``staff`` None: an operator at the command line. The parameters are
    positional-only, so that the detail may name a staff member or a region too."""
    await store.record(
        conn,
        staff_id=staff.id if staff else None,
        action=action,
        region=region,
        case_id=case_id,
        client=staff.client if staff else "cli",
        detail={**detail, "app_time": now.isoformat()},
    )


async def record_shown(
    conn: asyncpg.Connection,
    staff: StaffMember,
    action: str,
    regions: Iterable[str],
    now: datetime,
    shown: Sequence[tuple[str, UUID]],
    **detail: Any,
) -> None:
    """A list read: per region, how many rows it showed and which cases (once each), so that
    "who saw this person?" finds lists too (``GET /audit?case=``)."""
    for region in regions:
        ids = [str(case_id) for row_region, case_id in shown if row_region == region]
        if ids:
            cases = list(dict.fromkeys(ids))
            await record(conn, staff, action, region, now, count=len(ids), cases=cases, **detail)


async def find_events(
    ctx: ServiceContext,
    *,
    staff_id: UUID | None = None,
    case_id: UUID | None = None,
    region: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, UUID] | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """The audit log, filtered, in time order (admins: the API and the console)."""
    return await ctx.db.transaction(
        store.find,
        staff_id=staff_id,
        case_id=case_id,
        region=region,
        action=action,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )
