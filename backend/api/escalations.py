"""Alert routes: the worklist, claim and resolve; one-time Telegram link codes."""

from __future__ import annotations

from aiohttp import web

from backend.api import schemas
from backend.api.keys import CONTEXT, DEEP_LINK, staff_of
from backend.api.registry import API, Access
from backend.api.requests import body_of, query_of, uuid_param
from backend.api.responses import escalation_model, reply
from backend.domain.errors import NotFound
from backend.services import authority_chat, escalations
from backend.services.cases import within


@API.get(
    "/escalations",
    access=Access.READ,
    query=schemas.EscalationQuery,
    response=schemas.EscalationsOut,
    summary="Alerts, most pressing first (by each case's sum of open weights)",
    tags=("escalations",),
)
async def worklist(request: web.Request) -> web.Response:
    query = query_of(request, schemas.EscalationQuery)
    staff = staff_of(request)
    found = await escalations.worklist(
        request.app[CONTEXT], staff, within(staff, query.region), query.status, query.severity
    )
    return reply(schemas.EscalationsOut(escalations=[escalation_model(e, w) for e, w in found]))


@API.post(
    "/escalations/{escalation_id}/claim",
    access=Access.WRITE,
    response=schemas.EscalationOut,
    summary="Claim an alert (the first claim wins)",
    tags=("escalations",),
    extra_statuses=(409,),
)
async def claim(request: web.Request) -> web.Response:
    escalation_id = uuid_param(request, "escalation_id", "alert")
    escalation = await escalations.claim(request.app[CONTEXT], staff_of(request), escalation_id)
    return reply(escalation_model(escalation))


@API.post(
    "/escalations/{escalation_id}/resolve",
    access=Access.WRITE,
    body=schemas.Resolution,
    response=schemas.EscalationOut,
    summary="Resolve an alert, with an optional comment",
    tags=("escalations",),
    extra_statuses=(409,),
    body_required=False,
)
async def resolve(request: web.Request) -> web.Response:
    escalation_id = uuid_param(request, "escalation_id", "alert")
    body = await body_of(request, schemas.Resolution) if request.can_read_body else None
    comment = body.comment if body else None
    escalation = await escalations.resolve(
        request.app[CONTEXT], staff_of(request), escalation_id, comment
    )
    return reply(escalation_model(escalation))


@API.post(
    "/staff/me/telegram-link",
    access=Access.READ,
    response=schemas.LinkCodeOut,
    status=201,
    summary="A one-time code linking the caller's Telegram account (for Claim and Resolve)",
    tags=("telegram",),
)
async def telegram_link(request: web.Request) -> web.Response:
    link = await authority_chat.new_staff_link(request.app[CONTEXT], staff_of(request).id)
    out = schemas.LinkCodeOut(
        code=link.code, deep_link=request.app[DEEP_LINK](link.code), expires_at=link.expires_at
    )
    return reply(out, 201)


@API.post(
    "/regions/{region}/telegram-group",
    access=Access.WRITE,
    response=schemas.LinkCodeOut,
    status=201,
    summary="A one-time startgroup link binding a group to the region's alerts",
    tags=("telegram",),
)
async def group_link(request: web.Request) -> web.Response:
    region = request.match_info["region"]
    ctx = request.app[CONTEXT]
    if ctx.regions.get(region) is None:
        raise NotFound(f"region {region!r} not found.")
    link = await authority_chat.new_group_link(ctx, region, staff_of(request))
    out = schemas.LinkCodeOut(
        code=link.code,
        deep_link=request.app[DEEP_LINK](link.code, group=True),
        expires_at=link.expires_at,
    )
    return reply(out, 201)
