"""A staff member's browser for console tests over aiohttp's client (the real console on a
real loopback server): it keeps cookies, takes each form's CSRF token from the page it came
from, and signs in as a person does, reading the authenticator's key off the setup page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from html import unescape

import pyotp
from aiohttp import ClientResponse, ClientSession

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_SECRET = re.compile(r'<code class="secret">([A-Z2-7 ]+)</code>')
PASSWORD = "correct horse battery staple"


@dataclass
class Page:
    status: int
    url: str
    html: str

    @property
    def csrf(self) -> str:
        found = _CSRF.search(self.html)
        assert found, f"no form on {self.url}"
        return found.group(1)

    def has(self, text: str) -> bool:
        return text in unescape(self.html)

    def hidden(self, action: str) -> dict[str, str]:
        """The hidden fields of this page's form that is sent to ``action``."""
        form = re.search(
            rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', self.html, re.S
        )
        if form is None:
            return {}
        return {name: unescape(value) for name, value in _HIDDEN.findall(form.group(1))}


@dataclass
class Browser:
    client: ClientSession  # with the server's base_url and a cookie jar taking IP hosts
    login: str = ""  # whose browser it is, once signed in
    last: Page | None = None
    history: list[str] = field(default_factory=list)

    async def _page(self, response: ClientResponse) -> Page:
        page = Page(response.status, str(response.url.path_qs), await response.text())
        self.last = page
        self.history.append(page.url)
        return page

    async def get(self, path: str) -> Page:
        async with self.client.get(path) as response:
            return await self._page(response)

    async def post(
        self, path: str, data: dict | list | None = None, csrf: str | None = None
    ) -> Page:
        """Send a form as the page before it would (its CSRF token and its form's hidden
        fields, unless given), following redirects."""
        token = csrf if csrf is not None else (self.last.csrf if self.last else "")
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        given = {name for name, _ in fields}
        hidden = self.last.hidden(path) if self.last else {}
        fields += [(k, v) for k, v in hidden.items() if k not in given and k != "csrf"]
        async with self.client.post(path, data=[("csrf", token), *fields]) as response:
            return await self._page(response)

    async def post_raw(self, path: str, data: list[tuple[str, str]]) -> ClientResponse:
        """A form exactly as given (no token added), not following redirects."""
        response = await self.client.post(path, data=data, allow_redirects=False)
        await response.read()
        return response

    def cookie(self, name: str) -> str | None:
        for cookie in self.client.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return None


def code(secret: str, at: datetime, steps_later: int = 0) -> str:
    totp = pyotp.TOTP(secret.replace(" ", ""))
    return totp.generate_otp(totp.timecode(at) + steps_later)


async def first_sign_in(
    browser: Browser, login: str, temporary: str, now: datetime, password: str = PASSWORD
) -> str:
    """Sign in with a temporary password, enrol the authenticator and choose a password, as
    a new member does; returns the authenticator's secret."""
    await browser.get("/console/sign-in")
    setup = await browser.post("/console/sign-in", {"login": login, "password": temporary})
    assert setup.url.startswith("/console/setup"), setup.url
    found = _SECRET.search(setup.html)
    assert found, "the setup page shows the key"
    secret = found.group(1).replace(" ", "")
    done = await browser.post(
        "/console/setup",
        {"new_password": password, "repeat_password": password, "code": code(secret, now)},
    )
    assert done.status == 200 and done.url == "/console/", (done.url, done.html[:2000])
    browser.login = login
    return secret


async def sign_in(
    browser: Browser, login: str, secret: str, now: datetime, password: str = PASSWORD
) -> Page:
    """An enrolled member signs in: password, then a code of the step after the last used."""
    await browser.get("/console/sign-in")
    step = await browser.post("/console/sign-in", {"login": login, "password": password})
    assert step.url.startswith("/console/sign-in/code"), step.url
    return await browser.post("/console/sign-in/code", {"code": code(secret, now, 1)})
