"""The console's middlewares: security headers on every answer, errors as pages, and the
guard that finds the session, checks the CSRF token of every form and the role every page
declares (backend/console/pages.py)."""

from __future__ import annotations

import logging
from dataclasses import replace
from urllib.parse import quote

from aiohttp import web

from backend.api.client_address import client_address
from backend.api.keys import CONTEXT, STAFF
from backend.api.registry import ROLE_ACCESS
from backend.console.keys import CLIENT, LANGUAGE, OPTIONS, SESSION
from backend.console.pages import Handler, spec_of
from backend.console.render import CONSOLE_LANGUAGES, N_, PREFIX, render
from backend.console.security import (
    CSRF_FIELD,
    HEADERS,
    LANGUAGE_COOKIE,
    csrf_valid,
    keep_pre_cookie,
    over_tls,
    session_cookie,
)
from backend.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from backend.services import signin
from backend.storage.database import UNAVAILABLE

log = logging.getLogger(__name__)
STATIC = f"{PREFIX}/static/"
BACKGROUND = "X-Console-Background"  # sent by static/console.js with its own requests


def _protect(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)
    if over_tls(request):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    keep_pre_cookie(request, response)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as answer:  # redirects too
        _protect(request, answer)
        raise
    if not response.prepared:  # a stream (events) sent its headers itself
        _protect(request, response)
    return response


def _error_page(request: web.Request, status: int, title: str, detail: str) -> web.Response:
    return render(request, "error.html", status=status, title=title, detail=detail)


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Whatever goes wrong is a page in the member's language, never a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as answer:
        if answer.status < 400:  # redirects
            raise
        if answer.status == 404:
            return _error_page(
                request, 404, N_("Not found"), N_("There is nothing here, or not for you.")
            )
        if answer.status == 413:
            return _error_page(request, 413, N_("Not accepted"), N_("The form is too large."))
        return _error_page(request, answer.status, N_("Not accepted"), answer.reason)
    except NotFound:
        return _error_page(
            request, 404, N_("Not found"), N_("There is nothing here, or not for you.")
        )
    except Forbidden:
        return _error_page(
            request,
            403,
            N_("Not allowed"),
            N_("Your role does not allow this. Ask an administrator."),
        )
    except Conflict as error:
        return _error_page(request, 409, N_("Not possible now"), error.detail)
    except Invalid as error:
        return _error_page(request, 422, N_("Not accepted"), f"{error.field}: {error.detail}")
    except DomainError as error:
        return _error_page(request, 400, N_("Not accepted"), error.detail)
    except UNAVAILABLE as error:
        log.warning("database unavailable in console %s: %s", request.path, type(error).__name__)
        return _error_page(
            request,
            503,
            N_("Please try again"),
            N_("The database cannot be reached at the moment."),
        )
    except Exception:
        log.exception("unhandled error in console %s %s", request.method, request.path)
        return _error_page(
            request, 500, N_("Something went wrong"), N_("The error has been logged.")
        )


def _language(request: web.Request, session: signin.ConsoleSession | None) -> str:
    """The member's choice, else this browser's, else its Accept-Language, else English."""
    for chosen in (session.language if session else None, request.cookies.get(LANGUAGE_COOKIE)):
        if chosen in CONSOLE_LANGUAGES:
            return chosen
    accepted = request.headers.get("Accept-Language", "")
    for part in accepted.split(","):
        base = part.split(";")[0].strip().split("-")[0].lower()
        if base in CONSOLE_LANGUAGES:
            return base
    return "en"


def _to_sign_in(request: web.Request) -> web.HTTPSeeOther:
    target = f"{PREFIX}/sign-in"
    if request.method == "GET" and request.path != f"{PREFIX}/":
        target += "?next=" + quote(request.path_qs, safe="")
    return web.HTTPSeeOther(target)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    options = request.app[OPTIONS]
    ctx = request.app[CONTEXT]
    spec = spec_of(request)
    if request.path.startswith(STATIC):  # stylesheet and script: no session to look up
        return await handler(request)
    cookie = session_cookie(request)
    # The page's own live updates say so: they do not count as the member being there.
    touch = BACKGROUND not in request.headers and not (spec and spec.background)
    session = await signin.current(ctx, options.policy, cookie, touch) if cookie else None
    if session is not None:
        request[SESSION] = session
    request[LANGUAGE] = _language(request, session)
    client = client_address(request, options.trusted_proxy_hops)
    request[CLIENT] = client
    if spec is None:  # an unknown path: its "not found" page, with the menu if signed in
        return await handler(request)
    if request.method == "POST":
        try:
            form = await request.post()
        except (ValueError, UnicodeDecodeError, web.HTTPBadRequest):  # not a form we can read
            return _error_page(request, 400, N_("Not accepted"), N_("The form could not be read."))
        if not csrf_valid(request, str(form.get(CSRF_FIELD, ""))):
            return _error_page(
                request,
                403,
                N_("This form has expired"),
                N_(
                    "The form was not sent from this console session. Go back, reload the "
                    "page and try again."
                ),
            )
    if spec.stage is not None:  # a step of signing in
        if session is None or session.stage != spec.stage:
            raise _to_sign_in(request)
        return await handler(request)
    if spec.access is None:  # open to everyone
        return await handler(request)
    if session is None or session.stage != "signed_in":
        raise _to_sign_in(request)
    if spec.access not in ROLE_ACCESS[session.staff.role]:
        return _error_page(
            request,
            403,
            N_("Not allowed"),
            N_("Your role does not allow this. Ask an administrator."),
        )
    request[STAFF] = replace(session.staff, client=client)
    return await handler(request)
