"""Case routes: register, read, read the diary."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from backend.api.keys import CONTEXT, DEEP_LINK, staff_of
from backend.api.requests import json_body, uuid_param
from backend.api.schemas import CaseCreate
from backend.api.views import case_view, entry_view
from backend.domain.cases import NewCase
from backend.domain.errors import Invalid
from backend.services import cases as case_service

routes = web.RouteTableDef()


def _case_id(request: web.Request) -> UUID:
    return uuid_param(request, "case_id", "case")


@routes.post("/cases")
async def register_case(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    staff = staff_of(request)
    body = CaseCreate.model_validate_json(await json_body(request))
    region = ctx.regions.get(body.region)
    if region is None or body.region not in staff.regions:
        raise Invalid("region", f"unknown region {body.region!r}.")
    new = NewCase(
        region=body.region,
        kind=body.kind,
        quarantine_start=body.quarantine_start,
        quarantine_end=body.quarantine_end,
        language=body.language or region.default_language,
        staff_reference=body.staff_reference or None,
        label=body.label or None,
    )
    registration = await case_service.register_case(ctx, staff, new)
    code = registration.activation_code
    payload = {
        **case_view(registration.case),
        "activation_code": code,
        "deep_link": request.app[DEEP_LINK](code),
        "code_expires_at": registration.code_expires_at.isoformat(),
    }
    return web.json_response(
        payload, status=201, headers={"Location": f"/api/v1/cases/{registration.case.id}"}
    )


@routes.get("/cases/{case_id}")
async def get_case(request: web.Request) -> web.Response:
    case = await case_service.get_case(request.app[CONTEXT], staff_of(request), _case_id(request))
    return web.json_response(case_view(case))


@routes.get("/cases/{case_id}/entries")
async def list_entries(request: web.Request) -> web.Response:
    entries = await case_service.list_entries(
        request.app[CONTEXT], staff_of(request), _case_id(request)
    )
    return web.json_response({"entries": [entry_view(e) for e in entries]})
