"""Alerts to the authority: raised by the region's rules in the transaction that stores an
entry (or by the non-reporting sweep), posted to the region's group through the outbox,
claimed and resolved by staff of that region (in the group or through the API).

Group messages carry a pseudonymous case reference (the staff reference, else a short id),
never a name, phone number or address: the service stores none.

Alerts stay one row per case and rule (the API, the worklist and their history see each), but
the group gets one message per entry: the alerts one entry raises share a ``post_id`` (the id
of the first of them), the message is about that id, and its Claim and Resolve buttons act on
every unresolved alert of the case. Whatever changes an alert (the group, the API, a report
coming in) edits the message it is listed in.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.cases import Case, quarantine_day
from backend.domain.errors import Conflict, NotFound
from backend.domain.messages import Kind, Outgoing, Priority
from backend.domain.questionnaire import Answer
from backend.domain.regions import Region
from backend.domain.rules import (
    Finding,
    Reading,
    Rule,
    evaluate,
    history_matters,
)
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
    reading = Reading(
        local_date, answer.feeling_well, answer.symptoms, answer.temperature_c, answer.trend
    )
    earlier = []
    if history_matters(region.rules, case.kind, reading):
        entries = await entry_store.find_for_case(conn, case.region, case.id)
        # Entries recorded before this one: the checker may come to it after later ones
        # were stored (a queue that grew while no checker ran).
        this = next((e for e in entries if e.id == entry_id), None)
        earlier = [
            _reading(e)
            for e in entries
            if e.id != entry_id and (this is None or e.recorded_at <= this.recorded_at)
        ]
    raised: list[Escalation] = []
    first_new: Escalation | None = None
    repeated: list[UUID] = []
    for finding in evaluate(region.rules, case.kind, reading, earlier):
        joins = first_new.post_id if first_new else None
        escalation, new = await store.raise_alert(conn, case.region, case.id, finding, now, joins)
        raised.append(escalation)
        if new:
            log.info("alert %s (%s) for a case in %s", escalation.id, finding.rule, region.id)
            first_new = first_new or escalation
        else:  # one open alert per case and rule: a repeat updates it, in its own message
            repeated.append(escalation.post_id)
    if first_new:  # every new reason of this entry in one message
        await post(ctx, conn, region, case.id, first_new.post_id, repost=False)
    for post_id in dict.fromkeys(repeated):
        if first_new is None or post_id != first_new.post_id:
            await refresh_post(ctx, conn, case.region, case.id, post_id)
    # A report came in: the person is not silent any more. Looked for only where the sweep
    # raised such an alert (the case's hint), not by every answer of the morning.
    if case.silence_alerted:
        silent = await store.open_for_case(conn, case.region, case.id, Rule.NON_REPORTING.value)
        if silent:
            await store.resolve(conn, case.region, silent.id, None, "report received", now)
            await refresh_posts(ctx, conn, silent.id, case.region)
        await case_store.set_silence_alerted(conn, case.region, case.id, False)
    return raised


async def raise_and_post(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    region: Region,
    case: Case,
    finding: Finding,
    now: datetime,
) -> Escalation:
    """One finding on its own (non-reporting, /stop): a message of its own, or an update."""
    escalation, new = await store.raise_alert(conn, case.region, case.id, finding, now)
    if new:
        log.info("alert %s (%s) for a case in %s", escalation.id, finding.rule, region.id)
        await post(ctx, conn, region, case.id, escalation.post_id, repost=False)
    else:  # one open alert per case and rule: a repeat updates it
        await refresh_post(ctx, conn, case.region, case.id, escalation.post_id)
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
    case_id: UUID,
    post_id: UUID,
    repost: bool,
) -> None:
    """Post the message listing the alerts of ``post_id`` to the group (and, when reposting,
    to the fallback chat). Its dedup key names the message and the posting: a transaction
    retried, or the same entry delivered twice, never posts it twice."""
    chats = [await group_chat(ctx, conn, region)]
    if repost and region.rules.fallback_chat_id:
        chats.append(await group_store.current_chat_id(conn, region.rules.fallback_chat_id))
    chats = list(dict.fromkeys(chat for chat in chats if chat is not None))
    now = ctx.clock.now()
    number = await store.mark_posted(conn, region.id, case_id, post_id, now, repost)
    if not chats:
        log.info(
            "region %s has no authority group: alert %s is in the API only", region.id, post_id
        )
        return
    view = await post_view(ctx, conn, region.id, case_id, post_id)
    assert view is not None, "posted right after its alerts were raised"
    for chat_id in chats:
        await outbox_store.enqueue(
            conn,
            [
                Outgoing(
                    chat_id=chat_id,
                    kind=Kind.ALERT,
                    language=region.default_language,
                    priority=Priority.ALERT,
                    dedup_key=f"alert:{post_id}:{number}:{chat_id}",
                    payload={**view, "reposted": repost},
                    region=region.id,
                    subject_id=post_id,
                )
            ],
        )
    ctx.outbox.notify()


async def refresh_posts(
    ctx: ServiceContext, conn: asyncpg.Connection, escalation_id: UUID, region_id: str
) -> None:
    """Show an alert's new state in every copy of the message it is listed in."""
    escalation = await store.get(conn, [region_id], escalation_id)
    if escalation is not None:
        await refresh_post(ctx, conn, region_id, escalation.case_id, escalation.post_id)


async def refresh_changed(
    ctx: ServiceContext, conn: asyncpg.Connection, changed: list[Escalation]
) -> None:
    """Edit every message listing one of ``changed``, once each."""
    posts = dict.fromkeys((e.region, e.case_id, e.post_id) for e in changed)
    for region_id, case_id, post_id in posts:
        await refresh_post(ctx, conn, region_id, case_id, post_id)


async def refresh_post(
    ctx: ServiceContext, conn: asyncpg.Connection, region_id: str, case_id: UUID, post_id: UUID
) -> None:
    """Show the new state of a message's alerts in every copy posted (claimed, resolved, new
    reasons); a copy not sent yet goes out with the new state instead."""
    region = ctx.regions.require(region_id)
    view = await post_view(ctx, conn, region_id, case_id, post_id)
    if view is None:
        return
    await outbox_store.update_unsent_about(conn, post_id, view)
    posted = await outbox_store.posted_about(conn, post_id)
    # The same state is shown once per message, whatever the clock says.
    state = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()[:16]
    edits = [
        Outgoing(
            chat_id=chat_id,
            kind=Kind.ALERT_UPDATE,
            language=region.default_language,
            priority=Priority.ALERT,
            dedup_key=f"alert-edit:{post_id}:{message_id}:{state}",
            payload={**view, "message_id": message_id},
            region=region_id,
        )
        for chat_id, message_id in posted
    ]
    await outbox_store.enqueue(conn, edits)
    ctx.outbox.notify()


_SEVERITY_ORDER = {"urgent": 0, "high": 1, "normal": 2}


def _combined_status(alerts: list[Escalation]) -> str:
    """Open while any alert is (Claim still has work), resolved when all are."""
    statuses = {e.status for e in alerts}
    return next(s for s in ("open", "claimed", "resolved") if s in statuses)


def _names(names: list[str | None]) -> str | None:
    found = list(dict.fromkeys(name for name in names if name))
    return ", ".join(found) if found else None


async def post_view(
    ctx: ServiceContext, conn: asyncpg.Connection, region_id: str, case_id: UUID, post_id: UUID
) -> dict[str, Any] | None:
    """What the group sees of one message, as plain values: rendered in the region's language
    at send time. ``escalation`` is what the buttons carry (the message's id); ``alerts`` lists
    every alert of the message with its own state."""
    alerts = await store.in_post(conn, region_id, case_id, post_id)
    if not alerts:
        return None
    # Most pressing first, then in the rules' own order (raised at the same instant).
    rules = [rule.value for rule in Rule]
    alerts.sort(
        key=lambda e: (
            _SEVERITY_ORDER.get(e.severity, 2),
            rules.index(e.rule) if e.rule in rules else len(rules),
        )
    )
    case = await case_store.get_case(conn, [region_id], case_id)
    assert case is not None
    region = ctx.regions.require(case.region)
    today = region.local_date(ctx.clock.now())
    entries = await entry_store.find_for_case(conn, case.region, case.id)
    recent = [e for e in entries if today - timedelta(days=2) <= e.local_date <= today]
    claimed = [e for e in alerts if e.status == "claimed"]
    resolved = [e for e in alerts if e.status == "resolved"]
    return {
        "escalation": str(post_id),
        "region": case.region,
        "reference": case.reference,
        "kind": case.kind,
        "day": quarantine_day(case.quarantine_start, today),
        "days": quarantine_day(case.quarantine_start, case.quarantine_end),
        "severity": alerts[0].severity,
        "status": _combined_status(alerts),
        "alerts": [
            {
                "rule": e.rule,
                "severity": e.severity,
                "reasons": e.reasons,
                "status": e.status,
                "claimed_by": e.claimed_by_name,
                "resolved_by": e.resolved_by_name,
            }
            for e in alerts
        ],
        "claimed_by": _names([e.claimed_by_name for e in claimed]),
        "resolved_by": _names([e.resolved_by_name for e in resolved]),
        "resolution": "; ".join(
            dict.fromkeys(e.resolution for e in resolved if e.resolved_by and e.resolution)
        )
        or None,
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


async def alert_view(
    ctx: ServiceContext, conn: asyncpg.Connection, escalation: Escalation
) -> dict[str, Any] | None:
    """What the group sees of the message ``escalation`` is listed in."""
    return await post_view(ctx, conn, escalation.region, escalation.case_id, escalation.post_id)


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


async def worklist_version(ctx: ServiceContext, staff: StaffMember, regions: list[str]) -> str:
    """A token that changes whenever the worklist of ``regions`` would (nothing personal in
    it, so not audited: the list itself is, when it is read again)."""
    for region in regions:
        staff.require_read(region)
    found = await ctx.db.transaction(store.version, regions)
    return hashlib.sha256(repr(found).encode()).hexdigest()[:16]


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


async def claim_case(
    ctx: ServiceContext, staff: StaffMember, escalation_id: UUID
) -> list[Escalation]:
    """Claim every open alert of the alert's case, as the group's Claim button does: the duty
    officer who takes a case takes all of it (an alert someone else claimed stays theirs).
    A Conflict when none was open."""

    async def change(conn: asyncpg.Connection, alert: Escalation, now: datetime) -> list:
        return await store.claim_case(conn, alert.region, alert.case_id, staff.id, now)

    return await _whole_case(
        ctx, staff, escalation_id, "escalation.claim", change, "claimed or resolved"
    )


async def resolve_case(
    ctx: ServiceContext, staff: StaffMember, escalation_id: UUID, comment: str | None
) -> list[Escalation]:
    """Resolve every unresolved alert of the alert's case with one comment, as the group's
    Resolve button does. A Conflict when all were resolved already."""

    async def change(conn: asyncpg.Connection, alert: Escalation, now: datetime) -> list:
        return await store.resolve_case(conn, alert.region, alert.case_id, staff.id, comment, now)

    return await _whole_case(ctx, staff, escalation_id, "escalation.resolve", change, "resolved")


async def _whole_case(
    ctx: ServiceContext,
    staff: StaffMember,
    escalation_id: UUID,
    action: str,
    change: Callable[[asyncpg.Connection, Escalation, datetime], Awaitable[list[Escalation]]],
    already: str,
) -> list[Escalation]:
    async def act(conn: asyncpg.Connection) -> list[Escalation]:
        escalation = await _writable(conn, staff, escalation_id)
        now = ctx.clock.now()
        changed = await change(conn, escalation, now)
        if not changed:
            raise Conflict(f"the case's alerts are already {already}.")
        await acted_on(ctx, conn, staff, action, changed, now)
        return changed

    return await ctx.db.transaction(act)


async def acted_on(
    ctx: ServiceContext,
    conn: asyncpg.Connection,
    staff: StaffMember,
    action: str,
    changed: list[Escalation],
    now: datetime,
    **detail: Any,
) -> None:
    """After a claim or resolution of several alerts: their group messages show it, and each
    alert gets an audit record of its own, as a claim of one alert through the API does."""
    await refresh_changed(ctx, conn, changed)
    for alert in changed:
        await audit.record(
            conn,
            staff,
            action,
            alert.region,
            now,
            alert.case_id,
            escalation=str(alert.id),
            **detail,
        )


async def _writable(
    conn: asyncpg.Connection, staff: StaffMember, escalation_id: UUID
) -> Escalation:
    escalation = await store.get(conn, staff.readable_regions(), escalation_id)
    if escalation is None:
        raise NotFound(f"alert {escalation_id} not found.")
    staff.require_write(escalation.region)
    return escalation


async def raise_stopped(ctx: ServiceContext, conn: asyncpg.Connection, case: Case) -> None:
    """The person used /stop: the authority is told, as the person was promised."""
    region = ctx.regions.require(case.region)
    alerting = region.rules.alerting[Rule.STOPPED]
    finding = Finding(Rule.STOPPED, alerting.severity, alerting.weight, ({},))
    await raise_and_post(ctx, conn, region, case, finding, ctx.clock.now())
