"""Case routes: register, read, list, change, close and reopen, new codes, move, the diary."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from backend.api import schemas
from backend.api.keys import CONTEXT, DEEP_LINK, staff_of
from backend.api.registry import API, Access
from backend.api.requests import (
    body_of,
    decode_cursor,
    encode_cursor,
    query_of,
    uuid_param,
)
from backend.api.responses import case_model, case_out, entry_model, listed, reply
from backend.services import cases as service


def _case_id(request: web.Request) -> UUID:
    return uuid_param(request, "case_id", "case")


@API.post(
    "/cases",
    access=Access.WRITE,
    body=schemas.CaseCreate,
    response=schemas.CaseCreated,
    status=201,
    summary="Register a case; answers a one-time activation link",
    tags=("cases",),
)
async def register_case(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    staff = staff_of(request)
    body = await body_of(request, schemas.CaseCreate)
    new = service.new_case(ctx, staff, **body.model_dump())
    registration = await service.register_case(ctx, staff, new)
    code = registration.activation_code
    created = schemas.CaseCreated(
        **case_out(registration.case),
        activation_code=code,
        deep_link=request.app[DEEP_LINK](code),
        code_expires_at=registration.code_expires_at,
    )
    return reply(created, 201, {"Location": f"/api/v1/cases/{registration.case.id}"})


@API.get(
    "/cases",
    access=Access.READ,
    query=schemas.CaseQuery,
    response=schemas.CasePage,
    summary="Cases of the caller's regions, filtered (line lists), in pages",
    tags=("cases",),
)
async def list_cases(request: web.Request) -> web.Response:
    query = query_of(request, schemas.CaseQuery)
    staff = staff_of(request)
    found = await service.list_cases(
        request.app[CONTEXT],
        staff,
        service.within(staff, query.region),
        status=query.status,
        kind=query.kind,
        line_list=query.list,
        after=decode_cursor(query.cursor),
        limit=query.limit,
        reference=query.reference or None,
    )
    last = found[-1][0] if len(found) == query.limit else None
    page = schemas.CasePage(
        cases=[listed(case, weight) for case, weight in found],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )
    return reply(page)


@API.get(
    "/cases/{case_id}",
    access=Access.READ,
    response=schemas.CaseOut,
    summary="A case",
    tags=("cases",),
)
async def get_case(request: web.Request) -> web.Response:
    case = await service.get_case(request.app[CONTEXT], staff_of(request), _case_id(request))
    return reply(case_model(case))


@API.patch(
    "/cases/{case_id}",
    access=Access.WRITE,
    body=schemas.CaseChange,
    response=schemas.CaseOut,
    summary="Change quarantine dates, language, reference or label",
    extra_statuses=(409,),  # the case is closed (or already in the asked state)
    tags=("cases",),
)
async def change_case(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.CaseChange)
    changes = body.model_dump(exclude_unset=True)
    case = await service.change_case(
        request.app[CONTEXT], staff_of(request), _case_id(request), changes
    )
    return reply(case_model(case))


@API.post(
    "/cases/{case_id}/close",
    access=Access.WRITE,
    response=schemas.CaseOut,
    summary="End monitoring",
    extra_statuses=(409,),  # the case is closed (or already in the asked state)
    tags=("cases",),
)
async def close_case(request: web.Request) -> web.Response:
    case = await service.close_case(request.app[CONTEXT], staff_of(request), _case_id(request))
    return reply(case_model(case))


@API.post(
    "/cases/{case_id}/reopen",
    access=Access.WRITE,
    response=schemas.CaseOut,
    summary="Monitor a closed case again",
    extra_statuses=(409,),  # the case is closed (or already in the asked state)
    tags=("cases",),
)
async def reopen_case(request: web.Request) -> web.Response:
    case = await service.reopen_case(request.app[CONTEXT], staff_of(request), _case_id(request))
    return reply(case_model(case))


@API.post(
    "/cases/{case_id}/activation-code",
    access=Access.WRITE,
    response=schemas.ActivationOut,
    status=201,
    summary="A new one-time activation link; earlier unused ones stop working",
    extra_statuses=(409,),  # the case is closed (or already in the asked state)
    tags=("cases",),
)
async def new_activation_code(request: web.Request) -> web.Response:
    code, expires_at = await service.new_activation_code(
        request.app[CONTEXT], staff_of(request), _case_id(request)
    )
    out = schemas.ActivationOut(
        activation_code=code, deep_link=request.app[DEEP_LINK](code), code_expires_at=expires_at
    )
    return reply(out, 201)


@API.post(
    "/cases/{case_id}/move",
    access=Access.ADMIN,
    body=schemas.CaseMove,
    response=schemas.CaseOut,
    summary="Move a case to another region (admins)",
    tags=("cases",),
)
async def move_case(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.CaseMove)
    case = await service.move_case(
        request.app[CONTEXT], staff_of(request), _case_id(request), body.region
    )
    return reply(case_model(case))


@API.get(
    "/cases/{case_id}/entries",
    access=Access.READ,
    response=schemas.EntriesOut,
    summary="The case's diary",
    tags=("cases",),
)
async def list_entries(request: web.Request) -> web.Response:
    entries = await service.list_entries(request.app[CONTEXT], staff_of(request), _case_id(request))
    return reply(schemas.EntriesOut(entries=[entry_model(e) for e in entries]))
