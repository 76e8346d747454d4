"""The worklist, the landing page: the alerts of the member's regions, most pressing case
first (by the sum of its open weights), claimed and resolved here; what changed since the
page was loaded comes in without a reload (backend/console/events.py, static/console.js)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web
from yarl import URL

from backend.api.keys import CONTEXT, STAFF
from backend.api.registry import Access
from backend.api.requests import uuid_param
from backend.console.pages import PAGES
from backend.console.render import N_, PREFIX, console_page, reader, redirect, render
from backend.domain.errors import Conflict, Invalid
from backend.services import escalations
from backend.services.cases import within
from backend.wording import alert_reason

STATUSES = {
    "unresolved": N_("Open and claimed"),
    "open": N_("Open"),
    "claimed": N_("Claimed"),
    "resolved": N_("Resolved"),
}
SEVERITIES = {"urgent": N_("Urgent"), "high": N_("High"), "normal": N_("Normal")}
RULES = {
    "red_flag": N_("Red flag"),
    "temperature": N_("Temperature"),
    "symptomatic": N_("Symptomatic"),
    "first_symptom": N_("First symptom"),
    "worsening": N_("Feels worse"),
    "non_reporting": N_("Not reporting"),
    "stopped": N_("Stopped the questions"),
}
COMMENT_MAX = 500


def _filters(request: web.Request) -> dict[str, str | None]:
    """The worklist's filters from the query string; unknown values mean no filter."""
    query = request.query
    status = query.get("status", "unresolved")
    severity = query.get("severity") or None
    region = query.get("region") or None
    return {
        "status": status if status in STATUSES else "unresolved",
        "severity": severity if severity in SEVERITIES else None,
        "region": region,
    }


async def _rows(request: web.Request) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """One row per case, in the order of its most pressing alert: a duty officer takes a case,
    not an alert (Claim and Resolve act on all of the case's alerts, as in the group)."""
    ctx = request.app[CONTEXT]
    staff = request[STAFF]
    filters = _filters(request)
    regions = within(staff, filters["region"])
    found = await escalations.worklist(ctx, staff, regions, filters["status"], filters["severity"])
    t = reader(request)
    cases: dict[UUID, dict[str, Any]] = {}
    for alert, weight in found:
        region = ctx.regions.get(alert.region)
        row = cases.setdefault(
            alert.case_id,
            {
                "case_id": alert.case_id,
                "reference": alert.case_reference,
                "weight": weight,
                "region": region,
                "timezone": region.timezone if region else "UTC",
                "alerts": [],
            },
        )
        row["alerts"].append(
            {
                "alert": alert,
                "reasons": [alert_reason(t, alert.rule, r, region) for r in alert.reasons]
                or [t.gettext(RULES.get(alert.rule, alert.rule))],
            }
        )
    rows = list(cases.values())
    for row in rows:
        alerts = [item["alert"] for item in row["alerts"]]
        row["severity"] = min(alerts, key=lambda a: list(SEVERITIES).index(a.severity)).severity
        row["raised"] = min(a.created_at for a in alerts)
        row["states"] = states(alerts)
    return rows, filters


def states(alerts: list[Any]) -> list[tuple[str, str | None, str | None]]:
    """What the case's alerts stand at, each state once, in the order a reader asks: who has
    it, what is still open, who resolved it and how: (status, name, comment)."""
    seen: dict[tuple[str, str | None, str | None], None] = {}
    for status in ("claimed", "open", "resolved"):
        for alert in alerts:
            if alert.status != status:
                continue
            if status == "claimed":
                seen[(status, alert.claimed_by_name, None)] = None
            elif status == "resolved":
                seen[(status, alert.resolved_by_name, alert.resolution)] = None
            else:
                seen[(status, None, None)] = None
    return list(seen)


def _kept(request: web.Request) -> list[tuple[str, str]]:
    """The worklist's filters, without the notice of the last action."""
    return [(k, v) for k, v in request.query.items() if k != "notice"]


def _context(request: web.Request, rows: list, filters: dict) -> dict[str, Any]:
    return {
        "rows": rows,
        "filters": filters,
        "statuses": STATUSES,
        "severities": SEVERITIES,
        "rules": RULES,
        "comment_max": COMMENT_MAX,
        # Where the forms come back to: the worklist with these filters (also when the rows
        # were fetched alone).
        "here": str(URL(f"{PREFIX}/").with_query(_kept(request))),
        "request_query": URL("").with_query(_kept(request)).query_string,
    }


@PAGES.get("/", access=Access.READ)
async def worklist(request: web.Request) -> web.StreamResponse:
    rows, filters = await _rows(request)
    staff = request[STAFF]
    version = await escalations.worklist_version(
        request.app[CONTEXT], staff, within(staff, filters["region"])
    )
    return render(request, "worklist.html", version=version, **_context(request, rows, filters))


@PAGES.get("/worklist/rows", access=Access.READ)
async def worklist_rows(request: web.Request) -> web.StreamResponse:
    """The worklist's rows alone, for the page to swap in when an event says it changed."""
    rows, filters = await _rows(request)
    return render(request, "worklist_rows.html", **_context(request, rows, filters))


def _back(form: Any) -> str:
    """The worklist (with its filters) or the case page the form was sent from."""
    return console_page(str(form.get("back", ""))).removeprefix(PREFIX)


def _alert_id(request: web.Request) -> UUID:
    return uuid_param(request, "alert_id", "alert")


@PAGES.post("/alerts/{alert_id}/claim", access=Access.WRITE)
async def claim(request: web.Request) -> web.StreamResponse:
    """Claims every open alert of the alert's case."""
    form = await request.post()
    try:
        await escalations.claim_case(request.app[CONTEXT], request[STAFF], _alert_id(request))
    except Conflict:
        raise redirect(_back(form), "taken") from None
    raise redirect(_back(form), "claimed")


@PAGES.post("/alerts/{alert_id}/resolve", access=Access.WRITE)
async def resolve(request: web.Request) -> web.StreamResponse:
    """Resolves every unresolved alert of the alert's case, with the one comment."""
    form = await request.post()
    comment = str(form.get("comment", "")).strip()
    if len(comment) > COMMENT_MAX or "\x00" in comment:
        raise Invalid("comment", f"a comment has at most {COMMENT_MAX} characters.")
    try:
        await escalations.resolve_case(
            request.app[CONTEXT], request[STAFF], _alert_id(request), comment or None
        )
    except Conflict:
        raise redirect(_back(form), "already_resolved") from None
    raise redirect(_back(form), "resolved")
