"""Alerts to the authority: raised by the region's rules in the transaction that stores an
entry (or by the non-reporting sweep), posted to the region's group through the outbox,
claimed and resolved by staff of that region (in the group or through the API).

Group messages carry a pseudonymous case reference (the staff reference, else a short id),
never a name, phone number or address: the service stores none.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.cases import Case, quarantine_day
from backend.domain.errors import Conflict, NotFound
from backend.domain.messages import Kind, Outgoing, Priority
from backend.domain.questionnaire import Answer
from backend.domain.regions import Region
from backend.domain.rules import Finding, Reading, Rule, evaluate, non_reporting_since
from backend.domain.staff import StaffMember
from backend.services import audit
from backend.services.context import ServiceContext
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import escalations as store
from backend.storage import groups as group_store
from backend.storage import outbox as outbox_store
from backend.storage.escalations import Escalation

log = logging.getLogger(__name__)

MAX_REPOSTS = 3


def case_reference(case: Case) -> str:
    """How the group knows the case: the authority's own file number, else a short id."""
    return case.staff_reference or "#" + case.id.hex[:8].upper()


async def on_entry(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    case: Case,
    entry_id: UUID,
    local_date: date,
    answer: Answer,
) -> list[Escalation]:
    """Run the region's rules on a stored (or corrected) entry, in its transaction.

    The rules see every other entry of the case, those of other prompts of the same day too
    (with two prompts a day, the morning's cough is known in the evening); only the entry
    being stored (``entry_id``, already saved in this transaction) is left out.
    """
    region = ctx.regions.require(case.region)
    now = ctx.clock.now()
    entries = await entry_store.find_for_case(conn, case.region, case.id)
    earlier = [_reading(e) for e in entries if e.id != entry_id]
    reading = Reading(
        local_date, answer.feeling_well, answer.symptoms, answer.temperature_c, answer.trend
    )
    raised = []
    for finding in evaluate(region.rules, case.kind, reading, earlier):
        raised.append(await raise_and_post(ctx, conn, region, case, finding, now))
    # A report came in: the person is not silent any more.
    silent = await store.open_for_case(conn, case.region, case.id, Rule.NON_REPORTING.value)
    if silent:
        await store.resolve(conn, case.region, silent.id, None, "report received", now)
        await refresh_posts(ctx, conn, silent.id, case.region)
    return raised


async def raise_and_post(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    region: Region,
    case: Case,
    finding: Finding,
    now: datetime,
) -> Escalation:
    escalation, new = await store.raise_alert(conn, case.region, case.id, finding, now)
    if new:
        log.info("alert %s (%s) for a case in %s", escalation.id, finding.rule, region.id)
        await post(ctx, conn, region, escalation, repost=False)
    else:  # one open alert per case and rule: a repeat updates it
        await refresh_posts(ctx, conn, escalation.id, case.region)
    return escalation


async def group_chat(ctx: ServiceContext, conn: asyncpg.Connection, region: Region) -> int | None:
    """The region's authority group: bound with a startgroup link, else from the regions file,
    under the id it has now (the file keeps naming a group that became a supergroup)."""
    chat_id = await group_store.bound_group(conn, region.id) or region.authority_chat_id
    return await group_store.current_chat_id(conn, chat_id) if chat_id is not None else None


async def post(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    region: Region,
    escalation: Escalation,
    repost: bool,
) -> None:
    """Post the alert to the group (and, when reposting, to the fallback chat)."""
    chats = [await group_chat(ctx, conn, region)]
    if repost and region.rules.fallback_chat_id:
        chats.append(await group_store.current_chat_id(conn, region.rules.fallback_chat_id))
    chats = list(dict.fromkeys(chat for chat in chats if chat is not None))
    number = await store.mark_posted(conn, region.id, escalation.id, ctx.clock.now(), repost)
    if not chats:
        log.info(
            "region %s has no authority group: alert %s is in the API only",
            region.id,
            escalation.id,
        )
        return
    view = await alert_view(ctx, conn, escalation)
    for chat_id in chats:
        await outbox_store.enqueue(
            conn,
            [
                Outgoing(
                    chat_id=chat_id,
                    kind=Kind.ALERT,
                    language=region.default_language,
                    priority=Priority.ALERT,
                    dedup_key=f"alert:{escalation.id}:{number}:{chat_id}",
                    payload={**view, "reposted": repost},
                    region=region.id,
                    subject_id=escalation.id,
                )
            ],
        )
    ctx.outbox.notify()


async def refresh_posts(
    ctx: ServiceContext, conn: asyncpg.Connection, escalation_id: UUID, region_id: str
) -> None:
    """Show an alert's new state in every copy posted (claimed, resolved, new reasons)."""
    escalation = await store.get(conn, [region_id], escalation_id)
    if escalation is None:
        return
    region = ctx.regions.require(region_id)
    view = await alert_view(ctx, conn, escalation)
    await outbox_store.update_unsent_about(conn, escalation.id, view)
    posted = await outbox_store.posted_about(conn, escalation.id)
    # The same state is shown once per message, whatever the clock says.
    state = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()[:16]
    edits = [
        Outgoing(
            chat_id=chat_id,
            kind=Kind.ALERT_UPDATE,
            language=region.default_language,
            priority=Priority.ALERT,
            dedup_key=f"alert-edit:{escalation.id}:{message_id}:{state}",
            payload={**view, "message_id": message_id},
            region=region_id,
        )
        for chat_id, message_id in posted
    ]
    await outbox_store.enqueue(conn, edits)
    ctx.outbox.notify()


async def alert_view(
    ctx: ServiceContext, conn: asyncpg.Connection, escalation: Escalation
) -> dict[str, Any]:
    """What the group sees, as plain values: rendered in the region's language at send time."""
    case = await case_store.get_case(conn, [escalation.region], escalation.case_id)
    assert case is not None
    region = ctx.regions.require(case.region)
    today = region.local_date(ctx.clock.now())
    entries = await entry_store.find_for_case(conn, case.region, case.id)
    recent = [e for e in entries if today - timedelta(days=2) <= e.local_date <= today]
    return {
        "escalation": str(escalation.id),
        "region": case.region,
        "reference": case_reference(case),
        "kind": case.kind,
        "day": quarantine_day(case.quarantine_start, today),
        "days": quarantine_day(case.quarantine_start, case.quarantine_end),
        "rule": escalation.rule,
        "severity": escalation.severity,
        "reasons": escalation.reasons,
        "status": escalation.status,
        "claimed_by": escalation.claimed_by_name,
        "resolved_by": escalation.resolved_by_name,
        "resolution": escalation.resolution,
        "recent": [
            {
                "date": e.local_date.isoformat(),
                "well": e.feeling_well,
                "temperature": str(e.temperature_c) if e.temperature_c is not None else None,
                "symptoms": list(e.symptoms),
            }
            for e in recent
        ],
    }


def _reading(entry: entry_store.Entry) -> Reading:
    return Reading(
        entry.local_date, entry.feeling_well, entry.symptoms, entry.temperature_c, entry.trend
    )


async def worklist(
    ctx: ServiceContext,
    staff: StaffMember,
    regions: list[str],
    status: str | None,
    severity: str | None,
) -> list[tuple[Escalation, Any]]:
    """Alerts of ``regions`` (the caller's), most pressing first; the read is audited."""

    async def read(conn: asyncpg.Connection) -> list[tuple[Escalation, Any]]:
        found = await store.find(conn, regions, status, severity)
        shown = [(escalation.region, escalation.case_id) for escalation, _ in found]
        await audit.record_shown(conn, staff, "escalations.list", regions, ctx.clock.now(), shown)
        return found

    return await ctx.db.transaction(read)


async def claim(ctx: ServiceContext, staff: StaffMember, escalation_id: UUID) -> Escalation:
    """The first claim wins; a second one is a Conflict naming who has it."""

    async def act(conn: asyncpg.Connection) -> Escalation:
        escalation = await _writable(conn, staff, escalation_id)
        if not await store.claim(conn, escalation.region, escalation.id, staff.id, ctx.clock.now()):
            current = await store.get(conn, [escalation.region], escalation.id)
            holder = current.claimed_by_name if current else None
            raise Conflict(
                f"the alert is already {current.status if current else 'gone'}"
                + (f" (claimed by {holder})" if holder else "")
                + "."
            )
        await refresh_posts(ctx, conn, escalation.id, escalation.region)
        await audit.record(
            conn, staff, "escalation.claim", escalation.region, ctx.clock.now(), escalation.case_id
        )
        return await store.get(conn, [escalation.region], escalation.id)

    return await ctx.db.transaction(act)


async def resolve(
    ctx: ServiceContext, staff: StaffMember, escalation_id: UUID, comment: str | None
) -> Escalation:
    async def act(conn: asyncpg.Connection) -> Escalation:
        escalation = await _writable(conn, staff, escalation_id)
        if not await store.resolve(
            conn, escalation.region, escalation.id, staff.id, comment, ctx.clock.now()
        ):
            raise Conflict("the alert is already resolved.")
        await refresh_posts(ctx, conn, escalation.id, escalation.region)
        await audit.record(
            conn,
            staff,
            "escalation.resolve",
            escalation.region,
            ctx.clock.now(),
            escalation.case_id,
        )
        return await store.get(conn, [escalation.region], escalation.id)

    return await ctx.db.transaction(act)


async def _writable(
    conn: asyncpg.Connection, staff: StaffMember, escalation_id: UUID
) -> Escalation:
    escalation = await store.get(conn, staff.readable_regions(), escalation_id)
    if escalation is None:
        raise NotFound(f"alert {escalation_id} not found.")
    staff.require_write(escalation.region)
    return escalation


async def check_silence(ctx: ServiceContext, region_id: str) -> int:
    """The non-reporting rule, for the region's scheduler: one alert per silent case."""
    region = ctx.regions.require(region_id)
    now = ctx.clock.now()
    limit = now - timedelta(hours=region.rules.non_reporting_hours)

    async def sweep(conn: asyncpg.Connection) -> int:
        raised = 0
        for case_id, last_activity in await store.silent_cases(conn, region.id, limit):
            finding = non_reporting_since(region.rules, last_activity, now)
            case = await case_store.get_case(conn, [region.id], case_id)
            if finding and case:
                await raise_and_post(ctx, conn, region, case, finding, now)
                raised += 1
        return raised

    return await ctx.db.transaction(sweep)


async def repost_unclaimed(ctx: ServiceContext, region_id: str) -> int:
    """Urgent alerts nobody claimed in time are posted again (and to the fallback chat)."""
    region = ctx.regions.require(region_id)
    cutoff = ctx.clock.now() - timedelta(minutes=region.rules.repost_urgent_minutes)

    async def sweep(conn: asyncpg.Connection) -> int:
        waiting = await store.unclaimed_urgent(conn, region.id, cutoff, MAX_REPOSTS)
        for escalation in waiting:
            await post(ctx, conn, region, escalation, repost=True)
        return len(waiting)

    return await ctx.db.transaction(sweep)


async def raise_stopped(ctx: ServiceContext, conn: asyncpg.Connection, case: Case) -> None:
    """The person used /stop: the authority is told, as the person was promised."""
    region = ctx.regions.require(case.region)
    alerting = region.rules.alerting[Rule.STOPPED]
    finding = Finding(Rule.STOPPED, alerting.severity, alerting.weight, ({},))
    await raise_and_post(ctx, conn, region, case, finding, ctx.clock.now())
