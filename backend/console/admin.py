"""Administration: staff accounts (console sign-ins and their resets, roles, regions,
offboarding), bearer tokens for machines, and the audit log with filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from aiohttp import web
from multidict import MultiDictProxy

from backend.api import schemas
from backend.api.keys import CONTEXT, STAFF
from backend.api.registry import Access
from backend.api.requests import decode_cursor, encode_cursor, uuid_param
from backend.console.forms import M, parse, problem_text, values
from backend.console.pages import PAGES
from backend.console.render import redirect, render, texts
from backend.domain.errors import Conflict, Invalid
from backend.domain.staff import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, MIN_TOKEN_DAYS, ROLES
from backend.i18n import Translator
from backend.services import audit, signin
from backend.services import staff as service

AUDIT_PAGE = 100


def _staff_id(request: web.Request) -> UUID:
    return uuid_param(request, "staff_id", "staff member")


async def _staff_page(
    request: web.Request,
    status: int = 200,
    given: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    ctx = request.app[CONTEXT]
    return render(
        request,
        "admin_staff.html",
        status=status,
        members=await service.list_staff(ctx),
        logins=await signin.logins(ctx),
        roles=ROLES,
        all_regions=list(ctx.regions),
        given=given or {"role": "staff", "regions": []},
        errors=errors or {},
    )


@PAGES.get("/admin/staff", access=Access.ADMIN)
async def staff_list(request: web.Request) -> web.StreamResponse:
    return await _staff_page(request)


@PAGES.post("/admin/staff", access=Access.ADMIN)
async def create_member(request: web.Request) -> web.StreamResponse:
    t = texts(request)
    given = _staff_form(await request.post(), ("name", "role", "login"))
    body, errors = _parse_staff(schemas.StaffCreate, given, t)
    if not given.get("login"):
        errors["login"] = t.gettext("Required.")
    if body is None or errors:
        return await _staff_page(request, 422, given, errors)
    try:
        staff_id, password = await signin.create_member(
            request.app[CONTEXT],
            body.name,
            body.role,
            body.regions,
            given["login"],
            request[STAFF],
        )
    except Invalid as error:
        return await _staff_page(request, 422, given, {error.field: problem_text(t, error.detail)})
    member = await service.member(request.app[CONTEXT], staff_id)
    return render(
        request,
        "admin_secret.html",
        status=201,
        member=member,
        login=given["login"].lower(),
        password=password,
        token=None,
    )


def _staff_form(form: MultiDictProxy[Any], names: tuple[str, ...]) -> dict[str, Any]:
    """What a staff member's form gave: the named fields and the regions ticked."""
    given: dict[str, Any] = values(form, names)
    given["regions"] = [str(r) for r in form.getall("regions", [])]
    return given


def _parse_staff(
    model: type[M], given: dict[str, Any], t: Translator
) -> tuple[M | None, dict[str, str]]:
    """``given`` as ``model`` (the fields it has), and staff and viewers work in at least one
    region (an admin in all of them): said here in the member's language, as the service
    words it for the command line."""
    body, errors = parse(model, {k: v for k, v in given.items() if k in model.model_fields}, t)
    if given.get("role", "staff") != "admin" and not given.get("regions"):
        errors["regions"] = t.gettext("Choose at least one region.")
    return body, errors


async def _member_page(
    request: web.Request,
    status: int = 200,
    errors: dict[str, str] | None = None,
    given: dict[str, Any] | None = None,
) -> web.Response:
    ctx = request.app[CONTEXT]
    staff_id = _staff_id(request)
    member = await service.member(ctx, staff_id)
    return render(
        request,
        "admin_member.html",
        status=status,
        member=member,
        login=(await signin.logins(ctx)).get(staff_id, ""),
        tokens=await service.list_tokens(ctx, staff_id),
        now=ctx.clock.now(),
        token_days=(DEFAULT_TOKEN_DAYS, MIN_TOKEN_DAYS, MAX_TOKEN_DAYS),
        roles=ROLES,
        all_regions=list(ctx.regions),
        given=given or {"role": member.role, "regions": list(member.regions)},
        errors=errors or {},
    )


@PAGES.get("/admin/staff/{staff_id}", access=Access.ADMIN)
async def member_page(request: web.Request) -> web.StreamResponse:
    return await _member_page(request)


@PAGES.post("/admin/staff/{staff_id}/access", access=Access.ADMIN)
async def change_access(request: web.Request) -> web.StreamResponse:
    """Another role or other regions; the member's sessions stay and follow at once."""
    t = texts(request)
    given = _staff_form(await request.post(), ("role",))
    body, errors = _parse_staff(schemas.StaffChange, given, t)
    if body is None or errors:
        return await _member_page(request, 422, errors, given)
    try:
        await service.change_staff(
            request.app[CONTEXT], _staff_id(request), body.role, body.regions, request[STAFF]
        )
    except (Invalid, Conflict) as error:
        field = error.field if isinstance(error, Invalid) else "role"
        return await _member_page(request, 422, {field: problem_text(t, error.detail)}, given)
    raise redirect(f"/admin/staff/{_staff_id(request)}", "access_changed")


@PAGES.post("/admin/staff/{staff_id}/sign-in", access=Access.ADMIN)
async def reset_sign_in(request: web.Request) -> web.StreamResponse:
    """A (new) console login with a temporary password; the authenticator is enrolled again
    and every session of the member ends."""
    ctx = request.app[CONTEXT]
    staff_id = _staff_id(request)
    login = str((await request.post()).get("login", "")).strip()
    try:
        password = await signin.grant_sign_in(ctx, staff_id, login, request[STAFF])
    except Invalid as error:
        t = texts(request)
        return await _member_page(request, 422, {error.field: problem_text(t, error.detail)})
    member = await service.member(ctx, staff_id)
    return render(
        request,
        "admin_secret.html",
        member=member,
        login=login.lower(),
        password=password,
        token=None,
    )


@PAGES.post("/admin/staff/{staff_id}/disable", access=Access.ADMIN)
async def disable(request: web.Request) -> web.StreamResponse:
    staff_id = _staff_id(request)
    if staff_id == request[STAFF].id:
        raise Conflict("you cannot disable your own account; ask another administrator.")
    await service.disable_staff(request.app[CONTEXT], staff_id, request[STAFF])
    raise redirect("/admin/staff", "disabled")


@PAGES.post("/admin/staff/{staff_id}/tokens", access=Access.ADMIN)
async def new_token(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    staff_id = _staff_id(request)
    t = texts(request)
    body, errors = parse(schemas.TokenCreate, values(await request.post(), ("days",)), t)
    if body is None:
        return await _member_page(request, 422, errors)
    issued = await service.issue_token(ctx, staff_id, body.days, request[STAFF])
    member = await service.member(ctx, staff_id)
    return render(
        request,
        "admin_secret.html",
        status=201,
        member=member,
        login=None,
        password=None,
        token=issued,
    )


@PAGES.post("/admin/tokens/{token_id}/revoke", access=Access.ADMIN)
async def revoke(request: web.Request) -> web.StreamResponse:
    token_id = uuid_param(request, "token_id", "token")
    member = str((await request.post()).get("staff", ""))
    await service.revoke_token(request.app[CONTEXT], token_id, request[STAFF])
    back = f"/admin/staff/{member}" if _is_uuid(member) else "/admin/staff"
    raise redirect(back, "revoked")


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


def _day(value: str, next_day: bool = False) -> datetime:
    """A date of the filter form as the start of that day in UTC (of the next for 'until');
    ValueError for anything else, the last days of the calendar included."""
    try:
        start = datetime.combine(date.fromisoformat(value), time(), UTC)
        return start + timedelta(days=1) if next_day else start
    except OverflowError:
        raise ValueError(value) from None


@PAGES.get("/admin/audit", access=Access.ADMIN)
async def audit_log(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    query = request.query
    filters = {
        name: query.get(name, "").strip().replace("\x00", "")  # TEXT cannot hold a NUL
        for name in ("staff", "case", "region", "action", "since", "until")
    }
    problems: dict[str, str] = {}
    ids: dict[str, UUID | None] = {}
    days: dict[str, datetime | None] = {}
    for name in ("staff", "case"):
        try:
            ids[name] = UUID(filters[name]) if filters[name] else None
        except ValueError:
            problems[name] = texts(request).gettext("Not accepted.")
    for name in ("since", "until"):
        try:
            days[name] = _day(filters[name], name == "until") if filters[name] else None
        except ValueError:
            problems[name] = texts(request).gettext("Enter a date.")
    events = []
    following = None
    if not problems:
        events = await audit.find_events(
            ctx,
            staff_id=ids["staff"],
            case_id=ids["case"],
            region=filters["region"][:32] or None,
            action=filters["action"][:40] or None,
            since=days["since"],
            until=days["until"],
            after=decode_cursor(query.get("cursor")),
            limit=AUDIT_PAGE,
        )
        if len(events) == AUDIT_PAGE:
            following = {k: v for k, v in filters.items() if v}
            following["cursor"] = encode_cursor(events[-1].at, events[-1].id)
    return render(
        request,
        "admin_audit.html",
        events=events,
        filters=filters,
        problems=problems,
        following=following,
        members=await service.list_staff(ctx),
        all_regions=list(ctx.regions),
    )
