"""Registering cases and reading them, always within the staff member's regions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from backend.domain.activation import hash_code, new_code
from backend.domain.cases import Case, NewCase, validate_new_case
from backend.domain.errors import NotFound
from backend.domain.staff import StaffMember
from backend.services.context import ServiceContext
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage.entries import Entry


@dataclass(frozen=True)
class Registration:
    case: Case
    activation_code: str  # shown once; only its hash is stored
    code_expires_at: datetime


async def register_case(ctx: ServiceContext, staff: StaffMember, new: NewCase) -> Registration:
    staff.require_write(new.region)
    region = ctx.regions.require(new.region)
    now = ctx.clock.now()
    validate_new_case(new, region.local_date(now), ctx.languages)
    code = new_code()
    expires_at = now + timedelta(hours=region.activation_code_hours)

    async def store(conn: asyncpg.Connection) -> Case:
        case = await case_store.insert_case(conn, new, created_by=staff.id)
        await case_store.insert_activation_code(
            conn, case.region, case.id, hash_code(code), expires_at
        )
        return case

    case = await ctx.db.transaction(store)
    return Registration(case=case, activation_code=code, code_expires_at=expires_at)


async def get_case(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> Case:
    """The case, or NotFound, identical for a missing case and one of another region."""
    case = await ctx.db.transaction(case_store.get_case, staff.readable_regions(), case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found.")
    return case


async def list_entries(ctx: ServiceContext, staff: StaffMember, case_id: UUID) -> list[Entry]:
    async def read(conn: asyncpg.Connection) -> list[Entry] | None:
        case = await case_store.get_case(conn, staff.readable_regions(), case_id)
        if case is None:
            return None
        return await entry_store.find_for_case(conn, case.region, case.id)

    entries = await ctx.db.transaction(read)
    if entries is None:
        raise NotFound(f"case {case_id} not found.")
    return entries
