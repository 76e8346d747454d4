"""Signing in (password, then the authenticator's code), first-time setup with a QR code,
signing out (here or everywhere) and the language of the pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import segno
from aiohttp import web
from multidict import MultiDictProxy
from yarl import URL

from backend.api.client_address import limit_key
from backend.api.keys import CONTEXT
from backend.console.keys import CLIENT, FAILED_SIGNINS, OPTIONS, SESSION
from backend.console.pages import PAGES
from backend.console.render import (
    CONSOLE_LANGUAGES,
    N_,
    PREFIX,
    console_page,
    redirect,
    render,
    texts,
)
from backend.console.security import (
    clear_session_cookie,
    session_cookie,
    set_language_cookie,
    set_session_cookie,
)
from backend.domain.errors import Invalid
from backend.domain.signin import PASSWORD_MAX, PASSWORD_MIN
from backend.services import signin
from backend.services.password_hashing import HashingBusy
from backend.services.signin import ConsoleSession, SignInFailed

WRONG = N_(
    "The login, the password or the code is not right. After five wrong attempts in a row an "
    "account is locked for 15 minutes."
)
LOCKED = N_(
    "Too many wrong attempts: this account is locked for 15 minutes. Ask an administrator if "
    "you cannot wait."
)
BUSY = N_("Many people are signing in right now: try again in a few seconds.")
TOO_FAST = N_("Too many attempts from this address: wait a minute, then try again.")
EXPIRED = N_(
    "This temporary password has expired (it is valid for 72 hours). Ask an administrator "
    "for a new one."
)


def _failure(error: SignInFailed) -> str:
    return LOCKED if error.locked else EXPIRED if error.expired else WRONG


def _opened(request: web.Request, session: ConsoleSession, target: str) -> web.HTTPSeeOther:
    answer = web.HTTPSeeOther(target)
    assert session.token is not None, "a session just opened carries its cookie"
    policy = request.app[OPTIONS].policy
    lifetime = policy.lifetime if session.stage == "signed_in" else policy.pending
    set_session_cookie(request, answer, session.token, lifetime)
    return answer


@PAGES.get("/sign-in", access=None)
async def sign_in_page(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None and session.stage == "signed_in":
        raise web.HTTPSeeOther(console_page(request.query.get("next")))
    return render(request, "sign_in.html", next=console_page(request.query.get("next")), error=None)


async def _attempt(
    request: web.Request,
    template: str,
    step: Callable[[MultiDictProxy[Any]], Awaitable[ConsoleSession]],
) -> tuple[ConsoleSession | web.Response, str]:
    """One step of signing in (``step`` with the form), limited per client address: the new
    session, or the page again saying why not; and where to go after signing in."""
    form = await request.post()
    target = console_page(str(form.get("next", "")))
    addresses, address = request.app[FAILED_SIGNINS], limit_key(request[CLIENT])
    if not addresses.reserve(address):  # counted before the check, not after
        return render(request, template, status=429, next=target, error=TOO_FAST), target
    failed = True
    try:
        session = await step(form)
        failed = False
        return session, target
    except SignInFailed as error:
        return render(request, template, status=401, next=target, error=_failure(error)), target
    except HashingBusy:
        failed = False  # nothing was checked
        busy = render(request, template, status=503, next=target, error=BUSY)
        busy.headers["Retry-After"] = "5"
        return busy, target
    finally:
        await addresses.settle(address, failed)


@PAGES.post("/sign-in", access=None)
async def sign_in(request: web.Request) -> web.StreamResponse:
    ctx, policy = request.app[CONTEXT], request.app[OPTIONS].policy

    async def password(form: MultiDictProxy[Any]) -> ConsoleSession:
        login, given = str(form.get("login", "")), str(form.get("password", ""))
        return await signin.sign_in(ctx, policy, login, given, request[CLIENT])

    session, target = await _attempt(request, "sign_in.html", password)
    if isinstance(session, web.Response):
        return session
    step = "/setup" if session.stage == "setup" else "/sign-in/code"
    raise _opened(request, session, str(URL(f"{PREFIX}{step}").with_query(next=target)))


@PAGES.get("/sign-in/code", access=None, stage="password")
async def code_page(request: web.Request) -> web.StreamResponse:
    return render(
        request, "sign_in_code.html", next=console_page(request.query.get("next")), error=None
    )


@PAGES.post("/sign-in/code", access=None, stage="password")
async def code(request: web.Request) -> web.StreamResponse:
    ctx, policy = request.app[CONTEXT], request.app[OPTIONS].policy

    async def second_factor(form: MultiDictProxy[Any]) -> ConsoleSession:
        given = str(form.get("code", ""))
        return await signin.verify_code(
            ctx, policy, session_cookie(request), given, request[CLIENT]
        )

    session, target = await _attempt(request, "sign_in_code.html", second_factor)
    if isinstance(session, web.Response):
        return session
    raise _opened(request, session, target)


async def _setup_page(
    request: web.Request, status: int = 200, errors: dict[str, str] | None = None
) -> web.Response:
    options = request.app[OPTIONS]
    try:
        secret, uri = await signin.enrolment(
            request.app[CONTEXT], options.policy, session_cookie(request)
        )
    except SignInFailed as error:  # locked meanwhile, by wrong codes
        return render(request, "sign_in.html", status=401, next=f"{PREFIX}/", error=_failure(error))
    qr = segno.make(uri, error="m")
    return render(
        request,
        "setup.html",
        status=status,
        qr=qr.svg_data_uri(scale=5, border=2),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        login=request[SESSION].login,
        password_min=PASSWORD_MIN,
        next=console_page(request.query.get("next")),
        errors=errors or {},
    )


@PAGES.get("/setup", access=None, stage="setup")
async def setup_page(request: web.Request) -> web.StreamResponse:
    return await _setup_page(request)


@PAGES.post("/setup", access=None, stage="setup")
async def setup(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    t = texts(request)
    password = str(form.get("new_password", ""))
    if password != str(form.get("repeat_password", "")):
        return await _setup_page(
            request, 422, {"repeat_password": t.gettext("The two passwords differ.")}
        )
    addresses, address = request.app[FAILED_SIGNINS], limit_key(request[CLIENT])
    if not addresses.reserve(address):
        return await _setup_page(request, 429, {"code": t.gettext(TOO_FAST)})
    options = request.app[OPTIONS]
    failed = False
    try:
        session = await signin.complete_setup(
            request.app[CONTEXT],
            options.policy,
            session_cookie(request),
            password,
            str(form.get("code", "")),
            request[CLIENT],
        )
    except Invalid as error:  # the detail is a message id of backend.domain.signin
        problem = t.gettext(error.detail).format(min=PASSWORD_MIN, max=PASSWORD_MAX)
        return await _setup_page(request, 422, {error.field: problem})
    except SignInFailed as error:
        failed = True
        return await _setup_page(request, 401, {"code": t.gettext(_failure(error))})
    except HashingBusy:
        return await _setup_page(request, 503, {"code": t.gettext(BUSY)})
    finally:
        await addresses.settle(address, failed)
    raise _opened(request, session, console_page(str(form.get("next", ""))))


@PAGES.post("/sign-out", access=None)
async def sign_out(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None:
        await signin.sign_out(request.app[CONTEXT], session)
    answer = web.HTTPSeeOther(f"{PREFIX}/sign-in")
    clear_session_cookie(request, answer)
    raise answer


@PAGES.post("/sign-out-everywhere", access=None)
async def sign_out_everywhere(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None and session.stage == "signed_in":
        await signin.sign_out_everywhere(request.app[CONTEXT], session.staff)
    answer = web.HTTPSeeOther(f"{PREFIX}/sign-in?notice=signed_out_everywhere")
    clear_session_cookie(request, answer)
    raise answer


@PAGES.post("/language", access=None)
async def language(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    chosen = str(form.get("language", ""))
    if chosen not in CONSOLE_LANGUAGES:
        raise redirect("/")
    session = request.get(SESSION)
    if session is not None and session.stage == "signed_in":
        await signin.remember_language(request.app[CONTEXT], session.staff.id, chosen)
    answer = web.HTTPSeeOther(console_page(str(form.get("back", ""))))
    set_language_cookie(request, answer, chosen)
    raise answer
