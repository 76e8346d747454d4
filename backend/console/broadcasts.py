"""Broadcasts: a notice to everyone monitored in the member's regions, written per language,
with a live count of recipients, confirmed, then followed as it drains (or cancelled)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiDictProxy

from backend.api import schemas
from backend.api.keys import CONTEXT, STAFF
from backend.api.registry import Access
from backend.api.requests import uuid_param
from backend.console.cases import KINDS
from backend.console.forms import parse, problem_text
from backend.console.pages import PAGES
from backend.console.render import redirect, render, texts
from backend.domain.broadcasts import MAX_TEXT
from backend.domain.errors import Invalid
from backend.domain.staff import StaffMember
from backend.services import broadcasts as service
from backend.services.context import ServiceContext

T = TypeVar("T")


def _languages(ctx: ServiceContext, staff: StaffMember) -> list[str]:
    """The languages of the member's regions, each region's default first."""
    found: dict[str, None] = {}
    regions = [ctx.regions.get(r) for r in staff.writable_regions()]
    for region in regions:
        if region is not None:
            found.setdefault(region.default_language)
    for region in regions:
        if region is not None:
            for language in region.languages:
                found.setdefault(language)
    return [language for language in found if language in ctx.languages]


def _given(form: MultiDictProxy[Any], languages: list[str]) -> dict[str, Any]:
    return {
        "regions": [str(r) for r in form.getall("regions", [])],
        "kind": str(form.get("kind", "")) if form.get("kind") in KINDS else "",
        "urgent": form.get("urgent") == "yes",
        "texts": {
            language: str(form.get(f"text_{language}", "")).strip()
            for language in languages
            if str(form.get(f"text_{language}", "")).strip()
        },
    }


async def _compose(
    request: web.Request,
    status: int = 200,
    given: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    ctx = request.app[CONTEXT]
    staff = request[STAFF]
    writable = [ctx.regions.get(r) for r in staff.writable_regions()]
    return render(
        request,
        "broadcasts.html",
        status=status,
        recent=await service.recent_broadcasts(ctx, staff),
        writable=[r for r in writable if r is not None],
        text_languages=_languages(ctx, staff),
        kinds=KINDS,
        given=given or {"regions": staff.writable_regions(), "kind": "", "texts": {}},
        errors=errors or {},
        max_text=MAX_TEXT,
    )


@PAGES.get("/broadcasts", access=Access.READ)
async def broadcasts(request: web.Request) -> web.StreamResponse:
    return await _compose(request)


@PAGES.get("/broadcasts/count", access=Access.WRITE)
async def recipients(request: web.Request) -> web.StreamResponse:
    """For the compose form's live count (static/console.js)."""
    staff = request[STAFF]
    regions = request.query.getall("regions", [])[:100]  # another's region: not found
    kind = request.query.get("kind") if request.query.get("kind") in KINDS else None
    urgent = request.query.get("urgent") == "yes"
    count = await service.count_recipients(request.app[CONTEXT], staff, regions, kind, urgent)
    return web.json_response({"count": count})


async def _with_form(
    request: web.Request, act: Callable[..., Awaitable[T]]
) -> tuple[T | web.Response, dict[str, Any]]:
    """``act(ctx, staff, regions, texts, kind, urgent)`` with the compose form's values, or
    the form again naming what to correct."""
    ctx = request.app[CONTEXT]
    staff = request[STAFF]
    given = _given(await request.post(), _languages(ctx, staff))
    body, errors = parse(
        schemas.BroadcastCreate,  # the API's own checks first
        {
            "regions": given["regions"],
            "texts": given["texts"],
            "filter": {"kind": given["kind"]} if given["kind"] else None,
            "urgent": given["urgent"],
        },
        texts(request),
    )
    if body is None:
        return await _compose(request, 422, given, errors), given
    kind = body.filter.kind if body.filter else None
    try:
        done = await act(ctx, staff, body.regions, body.texts, kind, body.urgent)
    except Invalid as error:
        problem = problem_text(texts(request), error.detail)
        return await _compose(request, 422, given, {error.field: problem}), given
    return done, given


@PAGES.post("/broadcasts/preview", access=Access.WRITE)
async def preview(request: web.Request) -> web.StreamResponse:
    checked, given = await _with_form(request, service.preview_broadcast)
    if isinstance(checked, web.Response):
        return checked
    return render(
        request,
        "broadcast_confirm.html",
        preview=checked,
        given=given,
        kinds=KINDS,
    )


@PAGES.post("/broadcasts", access=Access.WRITE)
async def send(request: web.Request) -> web.StreamResponse:
    status, _ = await _with_form(request, service.create_broadcast)
    if isinstance(status, web.Response):
        return status
    raise redirect(f"/broadcasts/{status.broadcast.id}")


@PAGES.get("/broadcasts/{broadcast_id}", access=Access.READ)
async def progress(request: web.Request) -> web.StreamResponse:
    broadcast_id = uuid_param(request, "broadcast_id", "broadcast")
    staff = request[STAFF]
    status = await service.get_broadcast(request.app[CONTEXT], staff, broadcast_id)
    may_cancel = all(staff.may_write(region) for region in status.broadcast.regions)
    return render(request, "broadcast.html", status_=status, may_cancel=may_cancel)


@PAGES.post("/broadcasts/{broadcast_id}/cancel", access=Access.WRITE)
async def cancel(request: web.Request) -> web.StreamResponse:
    broadcast_id = uuid_param(request, "broadcast_id", "broadcast")
    await service.cancel_broadcast(request.app[CONTEXT], request[STAFF], broadcast_id)
    raise redirect(f"/broadcasts/{broadcast_id}", "cancelled")
