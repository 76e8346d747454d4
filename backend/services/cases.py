"""Cases, always within the staff member's regions, every access to personal data audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from backend.domain.activation import hash_code, new_code
from backend.domain.cases import Case, NewCase, validate_new_case
from backend.domain.errors import Conflict, Forbidden, Invalid, NotFound
from backend.domain.staff import StaffMember
from backend.services import audit
from backend.services.case_news import News, tell
from backend.services.context import ServiceContext
from backend.storage import case_admin
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import escalations as escalation_store
from backend.storage.entries import Entry
from backend.storage.escalations import Escalation

T = TypeVar("T")


@dataclass(frozen=True)
class Registration:
    case: Case
    activation_code: str  # shown once; only its hash is stored
    code_expires_at: datetime


def new_case(
    ctx: ServiceContext,
    staff: StaffMember,
    *,
    region: str,
    kind: str,
    quarantine_start: date,
    quarantine_end: date,
    language: str | None = None,
    staff_reference: str | None = None,
    label: str | None = None,
) -> NewCase:
    """A registration as staff give it (API or console): the region must be one of theirs."""
    found = ctx.regions.get(region)
    if found is None or region not in staff.regions:
        raise Invalid("region", f"unknown region {region!r}.")
    return NewCase(
        region=region,
        kind=kind,
        quarantine_start=quarantine_start,
        quarantine_end=quarantine_end,
        # No language: the region's default for now, the person's own Telegram language at
        # activation if the bot speaks it.
        language=language or found.default_language,
        language_chosen=bool(language),
        staff_reference=staff_reference or None,
        label=label or None,
    )


async def register_case(ctx: ServiceContext, staff: StaffMember, new: NewCase) -> Registration:
    staff.require_write(new.region)
    region = ctx.regions.require(new.region)
    now = ctx.clock.now()
    validate_new_case(new, region.local_date(now), ctx.languages)

    async def store(conn: asyncpg.Connection) -> Registration:
        case = await case_store.insert_case(conn, new, created_by=staff.id)
        code, expires_at = await _new_code(ctx, conn, case, now)
        await audit.record(conn, staff, "case.create", case.region, now, case.id)
        return Registration(case, code, expires_at)

    return await ctx.db.transaction(store)


async def _new_code(
    ctx: ServiceContext, conn: asyncpg.Connection, case: Case, now: datetime
) -> tuple[str, datetime]:
    region = ctx.regions.require(case.region)
    code = new_code()
    expires_at = now + timedelta(hours=region.activation_code_hours)
    await case_store.insert_activation_code(conn, case.region, case.id, hash_code(code), expires_at)
    return code, expires_at


async def _visible(conn: asyncpg.Connection, staff: StaffMember, case_id: UUID) -> Case:
    """The case if it is in the staff member's regions; NotFound exactly as for none."""
    case = await case_store.get_case(conn, staff.readable_regions(), case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found.")
    return case


async def get_case(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> Case:
    async def read(conn: asyncpg.Connection) -> Case:
        case = await _visible(conn, staff, case_id)
        await audit.record(conn, staff, "case.read", case.region, ctx.clock.now(), case.id)
        return case

    return await ctx.db.transaction(read)


async def list_entries(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> list[Entry]:
    async def read(conn: asyncpg.Connection) -> list[Entry]:
        case = await _visible(conn, staff, case_id)
        await audit.record(conn, staff, "entries.read", case.region, ctx.clock.now(), case.id)
        return await entry_store.find_for_case(conn, case.region, case.id)

    return await ctx.db.transaction(read)


@dataclass(frozen=True)
class CaseFile:
    """What the console's case page shows: the case, its diary and its alerts."""

    case: Case
    entries: list[Entry]
    alerts: list[Escalation]


async def case_file(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> CaseFile:
    """A case with its diary and alert history, audited as the API's reads of the case and
    of its entries are."""

    async def read(conn: asyncpg.Connection) -> CaseFile:
        case = await _visible(conn, staff, case_id)
        now = ctx.clock.now()
        await audit.record(conn, staff, "case.read", case.region, now, case.id)
        await audit.record(conn, staff, "entries.read", case.region, now, case.id)
        entries = await entry_store.find_for_case(conn, case.region, case.id)
        alerts = await escalation_store.for_case(conn, case.region, case.id)
        return CaseFile(case, entries, alerts)

    return await ctx.db.transaction(read)


async def change_case(
    ctx: ServiceContext, staff: StaffMember, case_id: UUID, changes: dict[str, Any]
) -> Case:
    """New quarantine dates, language, reference or label, checked like a registration."""

    async def act(conn: asyncpg.Connection) -> Case:
        case = await _visible(conn, staff, case_id)
        staff.require_write(case.region)
        if case.status == "closed":
            raise Conflict("the case is closed; reopen it first.")
        merged = NewCase(
            region=case.region,
            kind=case.kind,
            quarantine_start=changes.get("quarantine_start", case.quarantine_start),
            quarantine_end=changes.get("quarantine_end", case.quarantine_end),
            language=changes.get("language", case.language),
            staff_reference=changes.get("staff_reference", case.staff_reference),
            label=changes.get("label", case.label),
        )
        region = ctx.regions.require(case.region)
        validate_new_case(merged, region.local_date(ctx.clock.now()), ctx.languages)
        changed = await case_admin.change(conn, case.region, case.id, changes)
        dates = (changed.quarantine_start, changed.quarantine_end) if changed else None
        if changed and dates != (case.quarantine_start, case.quarantine_end):
            await tell(ctx, conn, changed, News.DATES_CHANGED)
        await audit.record(
            conn,
            staff,
            "case.change",
            case.region,
            ctx.clock.now(),
            case.id,
            fields=sorted(changes),
        )
        return changed

    return _told(ctx, await ctx.db.transaction(act))


async def close_case(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> Case:
    return await _transition(ctx, staff, case_id, "case.close")


async def reopen_case(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> Case:
    return await _transition(ctx, staff, case_id, "case.reopen")


async def _transition(ctx: ServiceContext, staff: StaffMember, case_id: UUID, action: str) -> Case:
    async def act(conn: asyncpg.Connection) -> Case:
        case = await _visible(conn, staff, case_id)
        staff.require_write(case.region)
        now = ctx.clock.now()
        if action == "case.close":
            done = await case_admin.close(conn, case.region, case.id, now)
        else:
            done = await case_admin.reopen(conn, case.region, case.id)
        if not done:
            state = "already closed" if action == "case.close" else "not closed, or purged"
            raise Conflict(f"the case is {state}.")
        await audit.record(conn, staff, action, case.region, now, case.id)
        after = await _visible(conn, staff, case_id)
        news = News.CLOSED if action == "case.close" else News.REOPENED
        await tell(ctx, conn, after, news)
        return after

    return _told(ctx, await ctx.db.transaction(act))


def _told(ctx: ServiceContext, result: T) -> T:
    """After a change the person may have been told about (``case_news``): the sender."""
    ctx.outbox.notify()
    return result


async def new_activation_code(
    ctx: ServiceContext, staff: StaffMember, case_id: UUID
) -> tuple[str, datetime]:
    """A fresh one-time code (a person who changed phones); earlier unused codes die."""

    async def act(conn: asyncpg.Connection) -> tuple[str, datetime]:
        case = await _visible(conn, staff, case_id)
        staff.require_write(case.region)
        if case.status == "closed":
            raise Conflict("the case is closed; reopen it first.")
        now = ctx.clock.now()
        await case_admin.revoke_codes(conn, case.region, case.id, now)
        code = await _new_code(ctx, conn, case, now)
        await audit.record(conn, staff, "case.new_code", case.region, now, case.id)
        return code

    return await ctx.db.transaction(act)


async def move_case(ctx: ServiceContext, staff: StaffMember, case_id: UUID, region_id: str) -> Case:
    """Admins only: the case and its diary go to another authority."""
    if staff.role != "admin":
        raise Forbidden("only admins may move cases between regions.")
    target = ctx.regions.get(region_id)
    if target is None:
        raise Invalid("region", f"unknown region {region_id!r}.")

    async def act(conn: asyncpg.Connection) -> Case:
        case = await _visible(conn, staff, case_id)
        if case.region == target.id:
            return case
        await case_admin.move(conn, case.id, case.region, target.id)
        # Recorded under both regions: each authority's audit trail (queried by region)
        # must show that the case left it or arrived.
        now = ctx.clock.now()
        for region in (case.region, target.id):
            await audit.record(
                conn,
                staff,
                "case.move",
                region,
                now,
                case.id,
                from_region=case.region,
                to_region=target.id,
            )
        moved = await _visible(conn, staff, case_id)
        await tell(ctx, conn, moved, News.MOVED)
        return moved

    return _told(ctx, await ctx.db.transaction(act))


async def list_cases(
    ctx: ServiceContext,
    staff: StaffMember,
    regions: list[str],
    *,
    status: str | None = None,
    kind: str | None = None,
    line_list: str | None = None,
    after: tuple[datetime, UUID] | None = None,
    limit: int = 100,
    reference: str | None = None,
) -> list[tuple[Case, Decimal]]:
    async def read(conn: asyncpg.Connection) -> list[tuple[Case, Decimal]]:
        found = await case_admin.page(
            conn,
            regions,
            status=status,
            kind=kind,
            line_list=line_list,
            after=after,
            limit=limit,
            reference=reference,
        )
        shown = [(case.region, case.id) for case, _ in found]
        await audit.record_shown(
            conn, staff, "cases.list", regions, ctx.clock.now(), shown, list=line_list
        )
        return found

    return await ctx.db.transaction(read)


def within(staff: StaffMember, region: str | None) -> list[str]:
    """The regions a request may see: the one asked for (if it is the caller's), else all."""
    if region is None:
        return staff.readable_regions()
    staff.require_read(region)
    return [region]
