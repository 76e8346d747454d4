"""Cookies, CSRF tokens and response headers of the console.

- The session cookie is HttpOnly and SameSite=Strict, Secure (and ``__Host-`` prefixed) when
  the console is served over TLS, directly or behind the trusted proxies.
- Every form carries a CSRF token derived from the cookie it is sent with (the session's, or
  before signing in a random ``pre`` cookie): a page of another site can neither read it nor
  make it, and SameSite=Strict keeps the cookie off its requests besides.
- Every page and redirect carries a Content-Security-Policy without inline script or style,
  may not be framed and is not cached (event streams, which show nothing, carry their own
  headers).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from aiohttp import web

from backend.console.keys import OPTIONS, PRE_VALUE, SESSION

_SESSION = "sd_session"
_PRE = "sd_pre"  # before signing in: what the sign-in form's CSRF token is bound to
LANGUAGE_COOKIE = "sd_lang"
CSRF_FIELD = "csrf"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Pages hold personal data and one-time links: not in caches, not in Referer headers.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def over_tls(request: web.Request) -> bool:
    """Served over TLS: here, or by the last trusted proxy (X-Forwarded-Proto)."""
    if request.secure:
        return True
    hops = request.app[OPTIONS].trusted_proxy_hops
    if hops <= 0:
        return False
    protos = [p.strip() for p in request.headers.get("X-Forwarded-Proto", "").split(",")]
    return len(protos) >= 1 and protos[-1].lower() == "https"


def _name(request: web.Request, base: str) -> str:
    # __Host-: the browser takes the cookie only if Secure, for this host and path / only.
    return f"__Host-{base}" if over_tls(request) else base


def session_cookie(request: web.Request) -> str:
    return request.cookies.get(_name(request, _SESSION), "")


def _set(request: web.Request, response: web.StreamResponse, base: str, value: str, **kw) -> None:
    response.set_cookie(
        _name(request, base),
        value,
        path="/",
        httponly=True,
        secure=over_tls(request),
        samesite="Strict",
        **kw,
    )


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, token: str, lifetime: timedelta
) -> None:
    _set(request, response, _SESSION, token, max_age=int(lifetime.total_seconds()))


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    # With the same attributes it was set with: a browser ignores a __Host- cookie that is
    # not Secure, the deletion included.
    response.del_cookie(
        _name(request, _SESSION),
        path="/",
        secure=over_tls(request),
        httponly=True,
        samesite="Strict",
    )


def pre_cookie(request: web.Request) -> str:
    return request.cookies.get(_name(request, _PRE), "")


def keep_pre_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Send the pre-session cookie a CSRF token of this page was bound to, if made now."""
    if PRE_VALUE in request and not response.prepared:
        _set(request, response, _PRE, request[PRE_VALUE])


def set_language_cookie(request: web.Request, response: web.StreamResponse, lang: str) -> None:
    _set(request, response, LANGUAGE_COOKIE, lang, max_age=365 * 86400)


def csrf_seed(request: web.Request) -> str:
    """What this request's CSRF token derives from: the session cookie when there is a live
    session, else the pre-session cookie (made now if the browser has none yet)."""
    if request.get(SESSION) is not None:
        return session_cookie(request)
    seed = pre_cookie(request)
    if not seed:
        seed = request.setdefault(PRE_VALUE, secrets.token_urlsafe(32))
    return seed


def csrf_token(request: web.Request) -> str:
    seed = csrf_seed(request).encode()
    return hmac.new(seed, b"symptom-diary console form", hashlib.sha256).hexdigest()


def csrf_valid(request: web.Request, given: str) -> bool:
    if not csrf_seed(request) or PRE_VALUE in request:  # no cookie came with the form
        return False
    if not given.isascii():  # compare_digest takes ASCII only; ours is hex
        return False
    return hmac.compare_digest(csrf_token(request), given)
