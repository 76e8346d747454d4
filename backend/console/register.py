"""Registering a case, and the handover sheet: the one-time link as a QR code with plain
instructions in the person's language, to print and hand over or to send."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import segno
from aiohttp import web

from backend.api import schemas
from backend.api.keys import CONTEXT, DEEP_LINK, STAFF
from backend.api.registry import Access
from backend.api.requests import uuid_param
from backend.console.cases import KINDS
from backend.console.forms import parse, problem_text, values
from backend.console.pages import PAGES
from backend.console.render import render, texts
from backend.domain.cases import Case
from backend.domain.errors import Invalid
from backend.domain.regions import Region
from backend.i18n import catalogs
from backend.services import cases as service
from backend.wording import HANDOVER

FIELDS = (
    "region",
    "kind",
    "quarantine_start",
    "quarantine_end",
    "language",
    "staff_reference",
    "label",
)


def _form(
    request: web.Request, status: int, given: dict[str, str], errors: dict[str, str]
) -> web.Response:
    staff = request[STAFF]
    ctx = request.app[CONTEXT]
    writable = [ctx.regions.get(r) for r in staff.writable_regions()]
    return render(
        request,
        "register.html",
        status=status,
        given=given,
        errors=errors,
        writable=[r for r in writable if r is not None],
        kinds=KINDS,
        citizen_languages=ctx.languages,
    )


@PAGES.get("/cases/new", access=Access.WRITE)
async def register_form(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    ctx = request.app[CONTEXT]
    given = {"kind": "contact"}
    if len(staff.writable_regions()) == 1:
        given["region"] = staff.writable_regions()[0]
    region = ctx.regions.get(given.get("region", ""))
    if region is not None:
        given["quarantine_start"] = region.local_date(ctx.clock.now()).isoformat()
    return _form(request, 200, given, {})


@PAGES.post("/cases", access=Access.WRITE)
async def register(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    staff = request[STAFF]
    t = texts(request)
    given = values(await request.post(), FIELDS)
    body, errors = parse(schemas.CaseCreate, given, t)
    if body is None:
        return _form(request, 422, given, errors)
    try:
        new = service.new_case(ctx, staff, **body.model_dump())
        registration = await service.register_case(ctx, staff, new)
    except Invalid as error:
        return _form(request, 422, given, {error.field: problem_text(t, error.detail)})
    return _handover(
        request,
        registration.case,
        registration.activation_code,
        registration.code_expires_at,
        registered=True,
    )


@PAGES.post("/cases/{case_id}/activation-code", access=Access.WRITE)
async def new_code(request: web.Request) -> web.StreamResponse:
    """A new link (a new phone, a lost sheet); the earlier unused ones stop working."""
    ctx = request.app[CONTEXT]
    case_id = uuid_param(request, "case_id", "case")
    code, expires_at = await service.new_activation_code(ctx, request[STAFF], case_id)
    case = await service.get_case(ctx, request[STAFF], case_id)
    return _handover(request, case, code, expires_at, registered=False)


def _handover(
    request: web.Request, case: Case, code: str, expires_at: datetime, registered: bool
) -> web.Response:
    """Shown once, as the answer to the POST that made the code: the code is never in a URL
    (URLs end up in logs and browser histories) and not stored (only its hash is)."""
    ctx = request.app[CONTEXT]
    link = request.app[DEEP_LINK](code)
    region = ctx.regions.require(case.region)
    return render(
        request,
        "handover.html",
        status=201 if registered else 200,
        case=case,
        region=region,
        link=link,
        expires_at=expires_at,
        registered=registered,
        qr=segno.make(link, error="m").svg_data_uri(scale=6, border=2),
        sheet=_sheet(case, region, expires_at),
        sheet_language=case.language,
    )


def _sheet(case: Case, region: Region, expires_at: datetime) -> dict[str, Any]:
    """The sheet's sentences in the person's language (the citizen catalogs)."""
    t = catalogs().get(case.language)
    say = t.gettext  # not _: these are the citizens' catalogs, not the console's
    local_expiry = expires_at.astimezone(region.zone)
    sheet = {
        "title": say(HANDOVER["title"]),
        "intro": say(HANDOVER["intro"]).format(
            authority=region.name,
            start=t.date(case.quarantine_start),
            end=t.date(case.quarantine_end),
        ),
        "steps": [
            say(HANDOVER["step_install"]),
            say(HANDOVER["step_scan"]),
            say(HANDOVER["step_start"]),
        ],
        "times": say(HANDOVER["times"]).format(
            times=t.join([t.time(at) for at in region.prompt_times])
        ),
        "expiry": say(HANDOVER["expiry"]).format(
            expiry=f"{t.date(local_expiry.date())} {t.time(local_expiry)}"
        ),
        "emergency": say(HANDOVER["emergency"]).format(number=region.emergency_number),
        "privacy": say(HANDOVER["privacy"]),
    }
    if region.contact:
        sheet["contact"] = say(HANDOVER["contact"]).format(contact=region.contact)
    return sheet
