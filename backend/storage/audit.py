"""The audit log: who read or changed which personal data, when, and from where.

Times come from the database clock (``clock_timestamp()``): an audit trail records when
things really happened, in the order they happened, whatever an application clock says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg


@dataclass(frozen=True)
class AuditEvent:
    id: UUID
    at: datetime
    staff_id: UUID | None
    staff_name: str | None
    action: str
    region: str
    case_id: UUID | None
    client: str | None
    detail: dict[str, Any]


async def record(
    conn: asyncpg.Connection,
    *,
    staff_id: UUID | None,
    action: str,
    region: str,
    case_id: UUID | None = None,
    client: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        """
        INSERT INTO audit_log (region, at, staff_id, action, case_id, client, detail)
        VALUES ($1, clock_timestamp(), $2, $3, $4, $5, $6::JSONB)
        """,
        region,
        staff_id,
        action,
        case_id,
        client,
        json.dumps(detail or {}),
    )


async def find(
    conn: asyncpg.Connection,
    *,
    staff_id: UUID | None,
    case_id: UUID | None,
    region: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[AuditEvent]:
    """Events in time order, filtered; ``after`` is the keyset cursor (at, id).

    A case filter also finds the lists and worklists that showed the case (``detail.cases``).
    """
    rows = await conn.fetch(
        """
        SELECT a.id, a.at, a.staff_id, s.name AS staff_name, a.action, a.region, a.case_id,
               a.client, a.detail
        FROM audit_log a LEFT JOIN staff_members s ON s.id = a.staff_id
        WHERE ($1::UUID IS NULL OR a.staff_id = $1)
          AND ($2::UUID IS NULL OR a.case_id = $2 OR a.detail -> 'cases' ? $2::TEXT)
          AND ($3::TEXT IS NULL OR a.region = $3) AND ($4::TEXT IS NULL OR a.action = $4)
          AND ($5::TIMESTAMPTZ IS NULL OR a.at >= $5) AND ($6::TIMESTAMPTZ IS NULL OR a.at < $6)
          AND ($7::TIMESTAMPTZ IS NULL OR (a.at, a.id) > ($7, $8::UUID))
        ORDER BY a.at, a.id
        LIMIT $9
        """,
        staff_id,
        case_id,
        region,
        action,
        since,
        until,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [
        AuditEvent(
            id=r["id"],
            at=r["at"],
            staff_id=r["staff_id"],
            staff_name=r["staff_name"],
            action=r["action"],
            region=r["region"],
            case_id=r["case_id"],
            client=r["client"],
            detail=json.loads(r["detail"]),
        )
        for r in rows
    ]
