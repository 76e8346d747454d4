"""Exports for other systems (CSV rows), audited like every read of personal data."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from backend.domain.errors import NotFound
from backend.domain.staff import StaffMember
from backend.services import audit
from backend.services.context import ServiceContext
from backend.storage import case_admin
from backend.storage import cases as case_store
from backend.storage import entries as entry_store

LINE_LIST_HEADER = [
    "case_id",
    "staff_reference",
    "kind",
    "status",
    "quarantine_start",
    "quarantine_end",
    "language",
    "activated",
    "stopped",
    "reachable",
    "open_alert_weight",
    "created_at",
    "closed_at",
]
DIARY_HEADER = [
    "local_date",
    "recorded_at",
    "feeling_well",
    "symptoms",
    "temperature_c",
    "trend",
    "note",
    "corrected_at",
]


async def line_list(ctx: ServiceContext, staff: StaffMember, region: str) -> list[list]:
    staff.require_read(region)
    if ctx.regions.get(region) is None:
        raise NotFound(f"region {region!r} not found.")

    async def read(conn: asyncpg.Connection) -> list[list]:
        rows, after = [LINE_LIST_HEADER], None
        while True:
            page = await case_admin.page(
                conn, [region], status=None, kind=None, line_list=None, after=after, limit=500
            )
            for case, weight in page:
                rows.append(
                    [
                        case.id,
                        case.staff_reference,
                        case.kind,
                        case.status,
                        case.quarantine_start,
                        case.quarantine_end,
                        case.language,
                        case.chat_id is not None,
                        case.stopped_at is not None,
                        case.unreachable_at is None,
                        weight,
                        case.created_at.isoformat(),
                        case.closed_at.isoformat() if case.closed_at else None,
                    ]
                )
            if len(page) < 500:
                break
            after = (page[-1][0].created_at, page[-1][0].id)
        await audit.record(
            conn, staff, "cases.export", region, ctx.clock.now(), count=len(rows) - 1
        )
        return rows

    return await ctx.db.transaction(read)


async def diary(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> list[list]:
    async def read(conn: asyncpg.Connection) -> list[list]:
        case = await case_store.get_case(conn, staff.readable_regions(), case_id)
        if case is None:
            raise NotFound(f"case {case_id} not found.")
        entries = await entry_store.find_for_case(conn, case.region, case.id)
        await audit.record(conn, staff, "entries.export", case.region, ctx.clock.now(), case.id)
        return [DIARY_HEADER] + [
            [
                e.local_date,
                e.recorded_at.isoformat(),
                e.feeling_well,
                " ".join(e.symptoms),
                e.temperature_c,
                e.trend,
                e.note,
                e.corrected_at.isoformat() if e.corrected_at else None,
            ]
            for e in entries
        ]

    return await ctx.db.transaction(read)
