"""Bearer-token authentication and role checks for every ``/api/v1`` route, in one place.

Failed attempts are limited per client address (per /64 for IPv6; behind trusted proxies, the
address they forwarded): after ten a minute, the address gets 429 until its budget refills, so
tokens cannot be guessed at speed. The budget is per process: with N API replicas an address gets
N times as many guesses, harmless against 256-bit tokens.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from aiohttp import web
from aiolimiter import AsyncLimiter

from backend.api.client_address import client_address, limit_key
from backend.api.keys import CONTEXT, STAFF
from backend.api.problems import Handler, problem
from backend.api.registry import ROLE_ACCESS, spec_of
from backend.services.staff import authenticate

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="symptom-diary"'}
PUBLIC = frozenset({"/api/v1/openapi.json"})
FAILURES_PER_MINUTE = 10
_ADDRESSES = 10_000  # remembered client addresses (the oldest are forgotten)


class FailedLogins:
    """A leaky bucket of failed attempts per client address (aiolimiter)."""

    def __init__(self, per_minute: int = FAILURES_PER_MINUTE):
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, AsyncLimiter] = OrderedDict()

    def _bucket(self, address: str) -> AsyncLimiter:
        bucket = self._buckets.pop(address, None) or AsyncLimiter(self.per_minute, 60)
        self._buckets[address] = bucket
        if len(self._buckets) > _ADDRESSES:
            self._buckets.popitem(last=False)
        return bucket

    def blocked(self, address: str) -> bool:
        return not self._bucket(address).has_capacity()

    async def failed(self, address: str) -> None:
        bucket = self._bucket(address)
        if bucket.has_capacity():
            await bucket.acquire()  # returns at once: there is capacity


def _unauthorized(detail: str) -> web.Response:
    return problem(401, "Unauthorized", detail, headers=_CHALLENGE)


def bearer_auth(failures: FailedLogins, trusted_proxy_hops: int = 0) -> Handler:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC:
            return await handler(request)
        client = client_address(request, trusted_proxy_hops)
        address = limit_key(client)
        if failures.blocked(address):
            return problem(
                429,
                "Too many requests",
                "Too many failed authentication attempts from this address; wait a minute.",
                headers={"Retry-After": "60"},
            )
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            return _unauthorized("An Authorization: Bearer <token> header is required.")
        if scheme.lower() != "bearer" or not token.strip():
            await failures.failed(address)
            return _unauthorized("The Authorization header must be 'Bearer <token>'.")
        staff = await authenticate(request.app[CONTEXT], token.strip())
        if staff is None:
            await failures.failed(address)
            return _unauthorized("The token is unknown, expired or revoked.")
        request[STAFF] = replace(staff, client=client)
        spec = spec_of(request)
        if spec is not None and spec.access not in ROLE_ACCESS[staff.role]:
            return problem(
                403,
                "Forbidden",
                f"the {staff.role} role may not {spec.summary[:1].lower()}{spec.summary[1:]}.",
            )
        return await handler(request)

    return middleware
