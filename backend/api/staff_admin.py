"""Admin routes: staff members and their tokens, the audit log."""

from __future__ import annotations

from aiohttp import web

from backend.api import schemas
from backend.api.keys import CONTEXT, staff_of
from backend.api.registry import API, Access
from backend.api.requests import body_of, decode_cursor, encode_cursor, query_of, uuid_param
from backend.api.responses import reply, staff_model, token_model
from backend.services import audit
from backend.services import staff as service


@API.get(
    "/staff",
    access=Access.ADMIN,
    response=schemas.StaffListOut,
    summary="Staff members",
    tags=("admin",),
)
async def list_staff(request: web.Request) -> web.Response:
    members = await service.list_staff(request.app[CONTEXT])
    return reply(schemas.StaffListOut(staff=[staff_model(m) for m in members]))


@API.post(
    "/staff",
    access=Access.ADMIN,
    body=schemas.StaffCreate,
    response=schemas.StaffCreated,
    status=201,
    summary="Create a staff member with a first token (shown once)",
    tags=("admin",),
)
async def create_staff(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.StaffCreate)
    ctx = request.app[CONTEXT]
    created = await service.create_staff(
        ctx, body.name, body.role, body.regions, body.token_days, actor=staff_of(request)
    )
    member = await service.member(ctx, created.staff_id)
    token = schemas.TokenCreated(
        **token_model(created.token_info).model_dump(), token=created.token
    )
    return reply(schemas.StaffCreated(staff=staff_model(member), token=token), 201)


@API.get(
    "/staff/{staff_id}/tokens",
    access=Access.ADMIN,
    response=schemas.TokensOut,
    summary="A staff member's tokens (never the tokens themselves)",
    tags=("admin",),
)
async def list_tokens(request: web.Request) -> web.Response:
    staff_id = uuid_param(request, "staff_id", "staff member")
    tokens = await service.list_tokens(request.app[CONTEXT], staff_id)
    return reply(schemas.TokensOut(tokens=[token_model(t) for t in tokens]))


@API.post(
    "/staff/{staff_id}/tokens",
    access=Access.ADMIN,
    body=schemas.TokenCreate,
    response=schemas.TokenCreated,
    status=201,
    summary="A new token (shown once)",
    tags=("admin",),
)
async def create_token(request: web.Request) -> web.Response:
    staff_id = uuid_param(request, "staff_id", "staff member")
    body = await body_of(request, schemas.TokenCreate)
    issued = await service.issue_token(
        request.app[CONTEXT], staff_id, body.days, actor=staff_of(request)
    )
    out = schemas.TokenCreated(**token_model(issued.info).model_dump(), token=issued.token)
    return reply(out, 201)


@API.delete(
    "/tokens/{token_id}",
    access=Access.ADMIN,
    status=204,
    response=None,
    summary="Revoke a token",
    tags=("admin",),
)
async def revoke_token(request: web.Request) -> web.Response:
    token_id = uuid_param(request, "token_id", "token")
    await service.revoke_token(request.app[CONTEXT], token_id, actor=staff_of(request))
    return web.Response(status=204)


@API.patch(
    "/staff/{staff_id}",
    access=Access.ADMIN,
    body=schemas.StaffChange,
    response=schemas.StaffOut,
    summary="Another role or other regions for a staff member",
    extra_statuses=(409,),  # the last administrator cannot lose the role
    tags=("admin",),
)
async def change_staff(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.StaffChange)
    member = await service.change_staff(
        request.app[CONTEXT],
        uuid_param(request, "staff_id", "staff member"),
        body.role,
        body.regions,
        staff_of(request),
    )
    return reply(staff_model(member))


@API.post(
    "/staff/{staff_id}/disable",
    access=Access.ADMIN,
    status=204,
    response=None,
    summary="Disable a staff member (offboarding): tokens revoked, Telegram account unlinked",
    tags=("admin",),
)
async def disable_staff(request: web.Request) -> web.Response:
    staff_id = uuid_param(request, "staff_id", "staff member")
    await service.disable_staff(request.app[CONTEXT], staff_id, staff_of(request))
    return web.Response(status=204)


@API.get(
    "/audit",
    access=Access.ADMIN,
    query=schemas.AuditQuery,
    response=schemas.AuditPage,
    summary="Who read or changed which personal data, when and from where",
    tags=("admin",),
)
async def audit_log(request: web.Request) -> web.Response:
    query = query_of(request, schemas.AuditQuery)
    events = await audit.find_events(
        request.app[CONTEXT],
        staff_id=query.staff,
        case_id=query.case,
        region=query.region,
        action=query.action,
        since=query.since,
        until=query.until,
        after=decode_cursor(query.cursor),
        limit=query.limit,
    )
    last = events[-1] if len(events) == query.limit else None
    page = schemas.AuditPage(
        events=[schemas.AuditEventOut(**vars(event)) for event in events],
        next_cursor=encode_cursor(last.at, last.id) if last else None,
    )
    return reply(page)
