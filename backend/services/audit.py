"""Recording staff access to personal data, inside the transaction that reads or changes it:
no access without its record."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.staff import StaffMember
from backend.storage import audit as store


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
