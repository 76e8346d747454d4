"""Broadcast routes: send a notice to everyone monitored in some regions, follow it, cancel it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from aiohttp import web

from backend.api.keys import CONTEXT, staff_of
from backend.api.requests import json_body, uuid_param
from backend.api.schemas import BroadcastCreate
from backend.services import broadcasts as service
from backend.services.broadcasts import BroadcastStatus

routes = web.RouteTableDef()


def _view(status: BroadcastStatus) -> dict[str, Any]:
    b, p = status.broadcast, status.progress
    return {
        "id": str(b.id),
        "regions": list(b.regions),
        "urgent": b.urgent,
        "total": p.total,
        "sent": p.sent,
        "failed": p.failed,
        "blocked": p.blocked,
        "cancelled": p.cancelled,
        "pending": p.pending,
        "started_at": b.created_at.isoformat(),
        "first_sent_at": p.first_sent_at.isoformat() if p.first_sent_at else None,
        "finished_at": p.last_done_at.isoformat() if p.pending == 0 and p.last_done_at else None,
        "cancelled_at": b.cancelled_at.isoformat() if b.cancelled_at else None,
    }


def _id(request: web.Request) -> UUID:
    return uuid_param(request, "broadcast_id", "broadcast")


@routes.post("/broadcasts")
async def create(request: web.Request) -> web.Response:
    body = BroadcastCreate.model_validate_json(await json_body(request))
    status = await service.create_broadcast(
        request.app[CONTEXT],
        staff_of(request),
        regions=body.regions,
        texts=body.texts,
        kind=body.filter.kind if body.filter else None,
        urgent=body.urgent,
    )
    location = f"/api/v1/broadcasts/{status.broadcast.id}"
    return web.json_response(_view(status), status=202, headers={"Location": location})


@routes.get("/broadcasts/{broadcast_id}")
async def read(request: web.Request) -> web.Response:
    status = await service.get_broadcast(request.app[CONTEXT], staff_of(request), _id(request))
    return web.json_response(_view(status))


@routes.post("/broadcasts/{broadcast_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    status = await service.cancel_broadcast(request.app[CONTEXT], staff_of(request), _id(request))
    return web.json_response(_view(status))
