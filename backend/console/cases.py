"""Line lists and the case page: the diary as a table and a chart, the alert history, and
what staff change about a case (close, reopen, dates, a new activation link)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from backend.api import schemas
from backend.api.keys import CONTEXT, STAFF
from backend.api.registry import Access
from backend.api.requests import decode_cursor, encode_cursor, uuid_param
from backend.console.chart import ChartText, Point, temperature_chart
from backend.console.forms import parse, problem_text, values
from backend.console.pages import PAGES
from backend.console.render import N_, Formats, reader, redirect, render, texts
from backend.console.worklist import RULES, SEVERITIES, STATUSES
from backend.domain.cases import quarantine_day
from backend.domain.errors import Conflict, Invalid
from backend.services import cases as service
from backend.services.cases import within
from backend.wording import alert_reason, symptom_list

LISTS = {
    "": N_("All cases"),
    "symptomatic": N_("Symptomatic"),
    "non_reporting": N_("Not reporting"),
    "reporting": N_("Reporting"),
    "closed": N_("Closed"),
}
CASE_STATUSES = {"registered": N_("Registered"), "active": N_("Active"), "closed": N_("Closed")}
KINDS = {"index": N_("Index case"), "contact": N_("Contact")}
TRENDS = {"better": N_("Better"), "same": N_("The same"), "worse": N_("Worse")}
PAGE_SIZE = 50


def _case_id(request: web.Request) -> UUID:
    return uuid_param(request, "case_id", "case")


@PAGES.get("/cases", access=Access.READ)
async def line_list(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    query = request.query
    chosen = query.get("list", "")
    chosen = chosen if chosen in LISTS else ""
    kind = query.get("kind") if query.get("kind") in KINDS else None
    region = query.get("region") or None
    reference = query.get("q", "").strip()[:64].replace("\x00", "") or None
    found = await service.list_cases(
        request.app[CONTEXT],
        staff,
        within(staff, region),
        kind=kind,
        line_list=chosen or None,
        after=decode_cursor(query.get("cursor")),
        limit=PAGE_SIZE,
        reference=reference,
    )
    last = found[-1][0] if len(found) == PAGE_SIZE else None
    following = None
    if last is not None:
        following = {k: v for k, v in query.items() if k != "cursor"}
        following["cursor"] = encode_cursor(last.created_at, last.id)
    regions = request.app[CONTEXT].regions
    today = {r.id: r.local_date(request.app[CONTEXT].clock.now()) for r in regions}
    return render(
        request,
        "cases.html",
        cases=found,
        lists=LISTS,
        chosen=chosen,
        kinds=KINDS,
        kind=kind,
        region=region,
        reference=reference or "",
        statuses=CASE_STATUSES,
        following=following,
        today=today,
        quarantine_day=quarantine_day,
    )


def _diary(request: web.Request, file: service.CaseFile) -> list[dict[str, Any]]:
    t = reader(request)
    region = request.app[CONTEXT].regions.get(file.case.region)
    return [
        {
            "entry": entry,
            "symptoms": symptom_list(t, list(entry.symptoms), region),
            "trend": TRENDS.get(entry.trend or ""),
        }
        for entry in sorted(file.entries, key=lambda e: (e.local_date, e.recorded_at))
    ]


def _chart(request: web.Request, file: service.CaseFile) -> Any:
    t = texts(request)
    case = file.case
    region = request.app[CONTEXT].regions.get(case.region)
    limit = region.rules.temperature_above.get(case.kind) if region else None
    shown = t.gettext("alert above {value} °C").format(value=Formats(t.language).number(limit))
    return temperature_chart(
        [Point(e.local_date, e.temperature_c) for e in file.entries],
        case.quarantine_start,
        case.quarantine_end,
        limit,
        ChartText(
            title=t.gettext("Temperature over the quarantine (°C, by day)"),
            limit=shown if limit is not None else "",
            no_values=t.gettext("No temperature reported yet."),
            day=t.gettext("Day {n}"),
        ),
        decimal="," if t.language == "de" else ".",
    )


def _alerts(request: web.Request, file: service.CaseFile) -> list[dict[str, Any]]:
    t = reader(request)
    region = request.app[CONTEXT].regions.get(file.case.region)
    return [
        {
            "alert": alert,
            "reasons": [alert_reason(t, alert.rule, r, region) for r in alert.reasons],
        }
        for alert in file.alerts
    ]


async def _case_page(
    request: web.Request, status: int = 200, errors: dict[str, str] | None = None
) -> web.Response:
    ctx = request.app[CONTEXT]
    file = await service.case_file(ctx, request[STAFF], _case_id(request))
    case = file.case
    region = ctx.regions.get(case.region)
    today = region.local_date(ctx.clock.now()) if region else ctx.clock.now().date()
    return render(
        request,
        "case.html",
        status=status,
        case=case,
        region=region,
        timezone=region.timezone if region else "UTC",
        day=quarantine_day(case.quarantine_start, today),
        days=quarantine_day(case.quarantine_start, case.quarantine_end),
        diary=_diary(request, file),
        chart=_chart(request, file),
        alerts=_alerts(request, file),
        kinds=KINDS,
        statuses=CASE_STATUSES,
        alert_statuses=STATUSES,
        severities=SEVERITIES,
        rules=RULES,
        errors=errors or {},
        here=request.path,
    )


@PAGES.get("/cases/{case_id}", access=Access.READ)
async def case_page(request: web.Request) -> web.StreamResponse:
    return await _case_page(request)


@PAGES.post("/cases/{case_id}/close", access=Access.WRITE)
async def close(request: web.Request) -> web.StreamResponse:
    case_id = _case_id(request)
    await service.close_case(request.app[CONTEXT], request[STAFF], case_id)
    raise redirect(f"/cases/{case_id}", "closed")


@PAGES.post("/cases/{case_id}/reopen", access=Access.WRITE)
async def reopen(request: web.Request) -> web.StreamResponse:
    case_id = _case_id(request)
    await service.reopen_case(request.app[CONTEXT], request[STAFF], case_id)
    raise redirect(f"/cases/{case_id}", "reopened")


@PAGES.post("/cases/{case_id}/dates", access=Access.WRITE)
async def change_dates(request: web.Request) -> web.StreamResponse:
    case_id = _case_id(request)
    t = texts(request)
    form = await request.post()
    given = values(form, ("quarantine_start", "quarantine_end"))
    change, errors = parse(schemas.CaseChange, given, t)
    if change is None:
        return await _case_page(request, 422, errors)
    try:
        await service.change_case(
            request.app[CONTEXT], request[STAFF], case_id, change.model_dump(exclude_unset=True)
        )
    except (Invalid, Conflict) as error:
        field = error.field if isinstance(error, Invalid) else "dates"
        return await _case_page(request, 422, {field: problem_text(t, error.detail)})
    raise redirect(f"/cases/{case_id}", "changed")
