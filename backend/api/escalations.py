"""Alert routes: the worklist, claim and resolve; line lists of cases; Telegram link codes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backend.api.keys import CONTEXT, DEEP_LINK, staff_of
from backend.api.requests import uuid_param
from backend.api.schemas import Resolution
from backend.api.views import case_view
from backend.domain.errors import Invalid, NotFound
from backend.domain.rules import SEVERITIES
from backend.services import authority_chat, escalations
from backend.storage import cases as case_store
from backend.storage import escalations as store
from backend.storage.escalations import Escalation

routes = web.RouteTableDef()
STATUSES = ("open", "claimed", "resolved")


def escalation_view(e: Escalation, case_weight: Any = None) -> dict[str, Any]:
    view = {
        "id": str(e.id),
        "region": e.region,
        "case_id": str(e.case_id),
        "rule": e.rule,
        "severity": e.severity,
        "weight": float(e.weight),
        "status": e.status,
        "reasons": e.reasons,
        "created_at": e.created_at.isoformat(),
        "updated_at": e.updated_at.isoformat(),
        "claimed_by": e.claimed_by_name,
        "claimed_at": e.claimed_at.isoformat() if e.claimed_at else None,
        "resolved_by": e.resolved_by_name,
        "resolved_at": e.resolved_at.isoformat() if e.resolved_at else None,
        "resolution": e.resolution,
    }
    if case_weight is not None:
        view["case_open_weight"] = float(case_weight)
    return view


def _regions(request: web.Request) -> list[str]:
    """The ?region= filter, within the caller's regions (another's looks like none at all)."""
    staff = staff_of(request)
    region = request.query.get("region")
    if region is None:
        return staff.readable_regions()
    staff.require_read(region)
    return [region]


def _choice(request: web.Request, name: str, options: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in options:
        raise Invalid(name, f"{name} must be one of {', '.join(options)}.")
    return value


@routes.get("/escalations")
async def worklist(request: web.Request) -> web.Response:
    regions = _regions(request)
    status = _choice(request, "status", STATUSES)
    severity = _choice(request, "severity", SEVERITIES)
    ctx = request.app[CONTEXT]
    found = await ctx.db.transaction(store.find, regions, status, severity)
    return web.json_response({"escalations": [escalation_view(e, w) for e, w in found]})


@routes.post("/escalations/{escalation_id}/claim")
async def claim(request: web.Request) -> web.Response:
    escalation_id = uuid_param(request, "escalation_id", "alert")
    escalation = await escalations.claim(request.app[CONTEXT], staff_of(request), escalation_id)
    return web.json_response(escalation_view(escalation))


@routes.post("/escalations/{escalation_id}/resolve")
async def resolve(request: web.Request) -> web.Response:
    escalation_id = uuid_param(request, "escalation_id", "alert")
    body = await request.read()
    comment = Resolution.model_validate_json(body or b"{}").comment if body else None
    escalation = await escalations.resolve(
        request.app[CONTEXT], staff_of(request), escalation_id, comment
    )
    return web.json_response(escalation_view(escalation))


@routes.get("/cases")
async def line_list(request: web.Request) -> web.Response:
    regions = _regions(request)
    name = _choice(request, "list", case_store.LINE_LISTS)
    if name is None:
        raise Invalid("list", f"list must be one of {', '.join(case_store.LINE_LISTS)}.")
    found = await request.app[CONTEXT].db.transaction(case_store.line_list, regions, name)
    return web.json_response(
        {"cases": [{**case_view(c), "open_weight": float(w)} for c, w in found]}
    )


@routes.post("/staff/me/telegram-link")
async def telegram_link(request: web.Request) -> web.Response:
    """A one-time code linking the caller's Telegram account (for Claim and Resolve)."""
    staff = staff_of(request)
    link = await authority_chat.new_staff_link(request.app[CONTEXT], staff.id)
    return web.json_response(
        {
            "code": link.code,
            "deep_link": request.app[DEEP_LINK](link.code),
            "expires_at": link.expires_at.isoformat(),
        },
        status=201,
    )


@routes.post("/regions/{region}/telegram-group")
async def group_link(request: web.Request) -> web.Response:
    """A one-time ``?startgroup=`` link: the group the bot is added to gets the region's alerts."""
    region = request.match_info["region"]
    ctx = request.app[CONTEXT]
    if ctx.regions.get(region) is None:
        raise NotFound(f"region {region!r} not found.")
    link = await authority_chat.new_group_link(ctx, region, staff_of(request))
    return web.json_response(
        {
            "code": link.code,
            "deep_link": request.app[DEEP_LINK](link.code, group=True),
            "expires_at": link.expires_at.isoformat(),
        },
        status=201,
    )
