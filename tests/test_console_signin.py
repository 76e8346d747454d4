"""Signing in to the console: password and TOTP, first-time setup, sessions that end, limits
on guessing, CSRF on every form, the security headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer

from backend.api.app import create_api
from backend.console.app import mount_console
from backend.console.keys import ConsoleOptions
from backend.domain.clock import FixedClock
from backend.domain.signin import SessionPolicy
from backend.services import signin
from backend.services.context import ServiceContext
from backend.services.staff import disable_staff
from tests.console_browser import PASSWORD, Browser, code, first_sign_in, sign_in

POLICY = SessionPolicy()


def console_app(ctx: ServiceContext) -> web.Application:
    def deep_link(code: str, group: bool = False) -> str:
        return f"https://t.me/DiaryTestBot?start{'group' if group else ''}={code}"

    app = create_api(ctx, deep_link)
    # Event streams look at the database often: a test waits a tenth of a second, not two.
    mount_console(app, ctx, deep_link, ConsoleOptions(POLICY, events_every=0.1))
    return app


@pytest.fixture
async def browsers(ctx: ServiceContext) -> AsyncIterator[Callable[[], Browser]]:
    """New browsers (each its own cookies) on one running console."""
    sessions: list[ClientSession] = []
    async with TestServer(console_app(ctx)) as server:

        def new() -> Browser:
            session = ClientSession(
                base_url=str(server.make_url("/")), cookie_jar=CookieJar(unsafe=True)
            )
            sessions.append(session)
            return Browser(session)

        yield new
        for session in sessions:
            await session.close()


async def test_a_new_member_sets_up_and_signs_in_with_a_code(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    _, temporary = await signin.create_member(
        ctx, "Erika Muster", "staff", ["de-berlin-mitte"], "erika", None
    )
    browser = browsers()
    secret = await first_sign_in(browser, "erika", temporary, clock.now())
    worklist = browser.last
    assert worklist is not None and worklist.has("Erika Muster")
    # Later, in a new browser: password and code.
    clock.advance(timedelta(minutes=1))
    other = browsers()
    page = await sign_in(other, "erika", secret, clock.now())
    assert page.url == "/console/" and page.has("Worklist")


async def _member(ctx: ServiceContext, login: str, role: str = "staff", regions=None) -> str:
    _, temporary = await signin.create_member(
        ctx,
        f"Member {login}",
        role,
        ["de-berlin-mitte"] if regions is None else regions,
        login,
        None,
    )
    return temporary


async def test_a_code_works_only_once(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    secret = await first_sign_in(browsers(), "otto", await _member(ctx, "otto"), clock.now())
    thief = browsers()
    await thief.get("/console/sign-in")
    await thief.post("/console/sign-in", {"login": "otto", "password": PASSWORD})
    used = code(secret, clock.now())  # the one the setup took
    page = await thief.post("/console/sign-in/code", {"code": used})
    assert page.status == 401 and page.has("not right")
    # The next step's code works (a phone a little ahead), and then not again.
    page = await thief.post("/console/sign-in/code", {"code": code(secret, clock.now(), 1)})
    assert page.url == "/console/"
    again = browsers()
    await again.get("/console/sign-in")
    await again.post("/console/sign-in", {"login": "otto", "password": PASSWORD})
    page = await again.post("/console/sign-in/code", {"code": code(secret, clock.now(), 1)})
    assert page.status == 401


async def test_wrong_passwords_lock_the_account_for_a_while(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    secret = await first_sign_in(browsers(), "paula", await _member(ctx, "paula"), clock.now())
    guesser = browsers()
    await guesser.get("/console/sign-in")
    for attempt in range(5):
        page = await guesser.post("/console/sign-in", {"login": "paula", "password": f"x{attempt}"})
        assert page.status == 401 and page.has("not right")
    # Even the right password is refused while locked (not even checked), in the same words
    # as a wrong one ...
    page = await guesser.post("/console/sign-in", {"login": "paula", "password": PASSWORD})
    assert page.status == 401 and page.has("not right")
    # ... and accepted again once the lock has passed (on the service clock).
    clock.advance(timedelta(minutes=16))
    page = await sign_in(browsers(), "paula", secret, clock.now())
    assert page.url == "/console/"


async def test_failed_attempts_from_one_address_are_limited(
    browsers: Callable[[], Browser], ctx: ServiceContext
) -> None:
    browser = browsers()
    await browser.get("/console/sign-in")
    statuses = []
    for attempt in range(11):
        page = await browser.post(
            "/console/sign-in", {"login": f"nobody{attempt}", "password": "whatever-it-is"}
        )
        statuses.append(page.status)
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
    assert page.has("Too many attempts from this address")


async def test_sessions_end_when_idle_and_after_a_working_day(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    browser = browsers()
    secret = await first_sign_in(browser, "ida", await _member(ctx, "ida"), clock.now())
    clock.advance(POLICY.idle - timedelta(minutes=1))
    assert (await browser.get("/console/")).url == "/console/"  # in use: still signed in
    clock.advance(POLICY.idle + timedelta(minutes=1))
    page = await browser.get("/console/cases")
    assert page.url == "/console/sign-in?next=/console/cases"
    # In use all day, the session still ends after its lifetime.
    clock.advance(timedelta(minutes=5))
    await sign_in(browser, "ida", secret, clock.now())
    for _ in range(int(POLICY.lifetime / timedelta(minutes=20))):
        clock.advance(timedelta(minutes=20))
        page = await browser.get("/console/")
    assert page.url.startswith("/console/sign-in")


async def test_a_stolen_cookie_stops_working_at_sign_out(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    browser = browsers()
    await first_sign_in(browser, "sam", await _member(ctx, "sam"), clock.now())
    stolen = browser.cookie("sd_session")
    assert stolen
    thief = browsers()
    thief.client.cookie_jar.update_cookies({"sd_session": stolen})
    assert (await thief.get("/console/")).url == "/console/"  # the cookie is the session ...
    await browser.get("/console/")
    page = await browser.post("/console/sign-out")
    assert page.url == "/console/sign-in"
    assert (await thief.get("/console/")).url.startswith("/console/sign-in")  # ... until then


async def test_sign_out_everywhere_ends_every_session(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    laptop = browsers()
    secret = await first_sign_in(laptop, "lea", await _member(ctx, "lea"), clock.now())
    clock.advance(timedelta(minutes=1))
    tablet = browsers()
    await sign_in(tablet, "lea", secret, clock.now())
    page = await tablet.post("/console/sign-out-everywhere")
    assert page.url.startswith("/console/sign-in") and page.has("signed out on every device")
    assert (await laptop.get("/console/")).url.startswith("/console/sign-in")


async def test_forms_without_the_session_s_csrf_token_are_refused(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    browser = browsers()
    await first_sign_in(browser, "carl", await _member(ctx, "carl"), clock.now())
    other = browsers()
    await other.get("/console/sign-in")  # a token of another browser's pre-session
    for token in ("", "0" * 64, other.last.csrf if other.last else ""):
        response = await browser.post_raw(
            "/console/sign-out-everywhere", [("csrf", token)] if token else []
        )
        assert response.status == 403
    assert (await browser.get("/console/")).url == "/console/"  # still signed in
    # A sign-in form needs its pre-session cookie's token too.
    stranger = browsers()
    response = await stranger.post_raw(
        "/console/sign-in", [("csrf", "0" * 64), ("login", "carl"), ("password", PASSWORD)]
    )
    assert response.status == 403


async def test_pages_carry_strict_security_headers_and_cookies(
    browsers: Callable[[], Browser], ctx: ServiceContext
) -> None:
    browser = browsers()
    async with browser.client.get("/console/sign-in") as response:
        headers = response.headers
        cookie = response.headers.getall("Set-Cookie")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "style-src 'self'" in csp
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    assert any("HttpOnly" in c and "SameSite=Strict" in c for c in cookie)
    assert not any("Secure" in c for c in cookie)  # plain http on loopback: no TLS here
    page = await browser.get("/console/sign-in")
    assert "<script>" not in page.html and " style=" not in page.html  # the CSP would block them


async def test_over_tls_cookies_are_secure_and_host_only(ctx: ServiceContext) -> None:
    def deep_link(code: str, group: bool = False) -> str:
        return f"https://t.me/DiaryTestBot?start={code}"

    app = create_api(ctx, deep_link, trusted_proxy_hops=1)
    mount_console(app, ctx, deep_link, ConsoleOptions(POLICY, trusted_proxy_hops=1))
    async with TestServer(app) as server, ClientSession(base_url=str(server.make_url("/"))) as s:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        async with s.get("/console/sign-in", headers=headers) as response:
            cookie = response.headers.getall("Set-Cookie")
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert any(c.startswith("__Host-sd_pre=") and "Secure" in c for c in cookie)


async def test_setup_explains_weak_passwords_and_wrong_codes(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    browser = browsers()
    temporary = await _member(ctx, "wim")
    await browser.get("/console/sign-in")
    setup = await browser.post("/console/sign-in", {"login": "wim", "password": temporary})
    secret = setup.html.split('<code class="secret">')[1].split("<")[0].replace(" ", "")
    right = code(secret, clock.now())
    for fields, problem in [
        ({"new_password": "short", "repeat_password": "short", "code": right}, "at least 12"),
        (
            {"new_password": "aaaaaaaaaaaaaa", "repeat_password": "aaaaaaaaaaaaaa", "code": right},
            "too easy",
        ),
        ({"new_password": PASSWORD, "repeat_password": PASSWORD + "!", "code": right}, "differ"),
        ({"new_password": temporary, "repeat_password": temporary, "code": right}, "temporary"),
        ({"new_password": PASSWORD, "repeat_password": PASSWORD, "code": "123"}, "not right"),
    ]:
        page = await browser.post("/console/setup", fields)
        assert page.status in (401, 422) and page.has(problem), (problem, page.html[-3000:])
    # The same key all along: the authenticator was not enrolled twice.
    assert secret in setup.html.replace(" ", "") and secret in page.html.replace(" ", "")
    page = await browser.post(
        "/console/setup", {"new_password": PASSWORD, "repeat_password": PASSWORD, "code": right}
    )
    assert page.url == "/console/"


async def test_after_sign_in_only_console_pages_are_next(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    browser = browsers()
    secret = await first_sign_in(browser, "nina", await _member(ctx, "nina"), clock.now())
    clock.advance(timedelta(minutes=1))
    other = browsers()
    for target, lands in [
        ("https://evil.example/", "/console/"),
        ("//evil.example/", "/console/"),
        ("/console/cases", "/console/cases"),
    ]:
        await other.get(f"/console/sign-in?next={target}")
        page = await other.post(
            "/console/sign-in", {"login": "nina", "password": PASSWORD, "next": target}
        )
        page = await other.post("/console/sign-in/code", {"code": code(secret, clock.now(), 1)})
        assert page.url == lands
        await other.post("/console/sign-out")
        clock.advance(timedelta(minutes=1))


async def test_a_reset_or_offboarding_ends_every_session(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    browser = browsers()
    staff_id, temporary = await signin.create_member(
        ctx, "Rita Reset", "staff", ["de-berlin-mitte"], "rita", None
    )
    await first_sign_in(browser, "rita", temporary, clock.now())
    new_temporary = await signin.grant_sign_in(ctx, staff_id, "rita", None)
    assert (await browser.get("/console/")).url.startswith("/console/sign-in")
    clock.advance(timedelta(minutes=1))
    await first_sign_in(browser, "rita", new_temporary, clock.now())  # set up from scratch
    await disable_staff(ctx, staff_id, None)
    assert (await browser.get("/console/")).url.startswith("/console/sign-in")
    await browser.get("/console/sign-in")
    page = await browser.post("/console/sign-in", {"login": "rita", "password": PASSWORD})
    assert page.status == 401


async def test_wrong_codes_after_the_right_password_lock_the_account_too(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    secret = await first_sign_in(browsers(), "cora", await _member(ctx, "cora"), clock.now())
    guesser = browsers()  # knows the password, not the phone
    for attempt in range(5):
        await guesser.get("/console/sign-in")
        page = await guesser.post("/console/sign-in", {"login": "cora", "password": PASSWORD})
        assert page.url.startswith("/console/sign-in/code")
        page = await guesser.post("/console/sign-in/code", {"code": f"00000{attempt}"})
        assert page.status == 401
    assert page.has("Too many wrong attempts: this account is locked")
    owner = browsers()
    await owner.get("/console/sign-in")
    page = await owner.post("/console/sign-in", {"login": "cora", "password": PASSWORD})
    assert page.status == 401 and page.has("not right")
    clock.advance(timedelta(minutes=16))
    assert (await sign_in(owner, "cora", secret, clock.now())).url == "/console/"


async def test_a_lock_tells_nothing_not_even_that_the_password_was_right(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    await first_sign_in(browsers(), "leo", await _member(ctx, "leo"), clock.now())
    guesser = browsers()
    await guesser.get("/console/sign-in")
    answers = []
    for login, password in [("leo", "guess-guess")] * 7 + [
        ("no.such.login", "guess-guess"),
        ("leo", PASSWORD),  # right, but the account is locked: not checked
    ]:
        page = await guesser.post("/console/sign-in", {"login": login, "password": password})
        answers.append((page.status, page.has("not right"), page.has("Too many wrong")))
    # Locked after five, but nobody can tell: the same answer as for a login that does not
    # exist, and as for a wrong password.
    assert set(answers) == {(401, True, False)}


async def test_a_temporary_password_expires_after_72_hours(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    temporary = await _member(ctx, "tom")
    clock.advance(timedelta(hours=72, minutes=1))
    browser = browsers()
    await browser.get("/console/sign-in")
    page = await browser.post("/console/sign-in", {"login": "tom", "password": temporary})
    assert page.status == 401 and page.has("temporary password has expired")


async def test_unreadable_forms_and_odd_codes_are_answered_not_crashed(
    browsers: Callable[[], Browser], ctx: ServiceContext, clock: FixedClock
) -> None:
    secret = await first_sign_in(browsers(), "uwe", await _member(ctx, "uwe"), clock.now())
    browser = browsers()
    page = await browser.get("/console/sign-in")
    for body, content_type in [
        (b"csrf=%ff%fe&login=%ff", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data"),
        (
            b"--x\r\nContent-Disposition: form-data; name=csrf\r\n\r\nabc",
            "multipart/form-data; boundary=x",
        ),
    ]:
        async with browser.client.post(
            "/console/sign-in", data=body, headers={"Content-Type": content_type}
        ) as response:
            assert response.status in (400, 403), await response.text()
            assert "<html" in await response.text()
    page = await browser.post("/console/sign-in", {"login": "uwe\x00", "password": PASSWORD})
    assert page.status == 401 and page.has("not right")
    page = await browser.post("/console/sign-in", {"login": "uwe", "password": PASSWORD})
    page = await browser.post("/console/sign-in/code", {"code": "١٢٣٤٥٦"})
    assert page.status == 401
    page = await browser.post("/console/sign-in/code", {"code": code(secret, clock.now(), 1)})
    assert page.url == "/console/"


async def test_sign_out_over_tls_deletes_the_host_cookie(ctx: ServiceContext) -> None:
    def deep_link(code: str, group: bool = False) -> str:
        return f"https://t.me/DiaryTestBot?start={code}"

    app = create_api(ctx, deep_link, trusted_proxy_hops=1)
    mount_console(app, ctx, deep_link, ConsoleOptions(POLICY, trusted_proxy_hops=1))
    tls = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
    async with TestServer(app) as server, ClientSession(base_url=str(server.make_url("/"))) as s:
        async with s.get("/console/sign-in", headers=tls) as response:
            page = await response.text()
            pre = response.cookies["__Host-sd_pre"].value
        token = page.split('name="csrf" value="')[1].split('"')[0]
        async with s.post(
            "/console/sign-out",
            data={"csrf": token},
            headers=tls | {"Cookie": f"__Host-sd_pre={pre}; __Host-sd_session=x"},
            allow_redirects=False,
        ) as response:
            deleted = response.headers.getall("Set-Cookie")
    assert any(
        c.startswith("__Host-sd_session=") and "Secure" in c and "Max-Age=0" in c for c in deleted
    ), deleted
