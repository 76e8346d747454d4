"""Broadcast routes: a notice to everyone monitored in some regions, followed, cancelled."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from backend.api import schemas
from backend.api.keys import CONTEXT, staff_of
from backend.api.registry import API, Access
from backend.api.requests import body_of, uuid_param
from backend.api.responses import broadcast_model, reply
from backend.services import broadcasts as service


def _id(request: web.Request) -> UUID:
    return uuid_param(request, "broadcast_id", "broadcast")


@API.post(
    "/broadcasts",
    access=Access.WRITE,
    body=schemas.BroadcastCreate,
    response=schemas.BroadcastOut,
    status=202,
    summary="Send a notice to everyone monitored in the regions, each in their language",
    tags=("broadcasts",),
)
async def create_broadcast(request: web.Request) -> web.Response:
    body = await body_of(request, schemas.BroadcastCreate)
    status = await service.create_broadcast(
        request.app[CONTEXT],
        staff_of(request),
        regions=body.regions,
        texts=body.texts,
        kind=body.filter.kind if body.filter else None,
        urgent=body.urgent,
    )
    location = f"/api/v1/broadcasts/{status.broadcast.id}"
    return reply(broadcast_model(status.broadcast, status.progress), 202, {"Location": location})


@API.get(
    "/broadcasts/{broadcast_id}",
    access=Access.READ,
    response=schemas.BroadcastOut,
    summary="A broadcast's progress",
    tags=("broadcasts",),
)
async def get_broadcast(request: web.Request) -> web.Response:
    status = await service.get_broadcast(request.app[CONTEXT], staff_of(request), _id(request))
    return reply(broadcast_model(status.broadcast, status.progress))


@API.post(
    "/broadcasts/{broadcast_id}/cancel",
    access=Access.WRITE,
    response=schemas.BroadcastOut,
    summary="Stop what has not been sent",
    tags=("broadcasts",),
)
async def cancel_broadcast(request: web.Request) -> web.Response:
    status = await service.cancel_broadcast(request.app[CONTEXT], staff_of(request), _id(request))
    return reply(broadcast_model(status.broadcast, status.progress))
