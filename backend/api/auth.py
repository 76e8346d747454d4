"""Bearer-token authentication and role checks for every ``/api/v1`` route, in one place.

Failed attempts are limited per client address (per /64 for IPv6; behind trusted proxies, the
address they forwarded): beyond ten a minute, a wrong token from that address gets 429 until
the budget refills, so tokens cannot be guessed at speed. A valid token is always served: a
flood of bad tokens behind a shared NAT (or from a proxy not declared in
``DIARY_TRUSTED_PROXY_HOPS``) slows the failures down, never the staff. The budget is per
process: with N API replicas an address gets N times as many guesses, harmless against 256-bit
tokens.
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
    """A leaky bucket of failed attempts per client address (aiolimiter), and the attempts
    still being checked: ``reserve`` counts an attempt before its check (in one step, no
    await between looking and counting), so a burst sent at once cannot all pass the look
    before any is counted (issue 20)."""

    def __init__(self, per_minute: int = FAILURES_PER_MINUTE):
        self.per_minute = per_minute
        self._buckets: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._checking: dict[str, int] = {}  # reserved attempts not settled yet

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

    def reserve(self, address: str) -> bool:
        """Room for one more attempt, counting those still being checked as failures (they
        may be); then it is counted until ``settle``. False: the address must wait."""
        checking = self._checking.get(address, 0)
        if not self._bucket(address).has_capacity(checking + 1):
            return False
        self._checking[address] = checking + 1
        return True

    async def settle(self, address: str, failed: bool) -> None:
        """The reserved attempt's outcome: a failure stays in the budget, a success does not."""
        left = self._checking.get(address, 1) - 1
        if left > 0:
            self._checking[address] = left
        else:
            self._checking.pop(address, None)
        if failed:
            await self.failed(address)


def _unauthorized(detail: str) -> web.Response:
    return problem(401, "Unauthorized", detail, headers=_CHALLENGE)


async def _refused(failures: FailedLogins, address: str, detail: str) -> web.Response:
    """A wrong credential: 401, or 429 once the address has used its budget of failures."""
    if failures.blocked(address):
        return problem(
            429,
            "Too many requests",
            "Too many failed authentication attempts from this address; wait a minute.",
            headers={"Retry-After": "60"},
        )
    await failures.failed(address)
    return _unauthorized(detail)


def bearer_auth(failures: FailedLogins, trusted_proxy_hops: int = 0) -> Handler:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC:
            return await handler(request)
        client = client_address(request, trusted_proxy_hops)
        address = limit_key(client)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            return _unauthorized("An Authorization: Bearer <token> header is required.")
        if scheme.lower() != "bearer" or not token.strip():
            return await _refused(
                failures, address, "The Authorization header must be 'Bearer <token>'."
            )
        # Checked whatever the address's budget (a hash lookup): a valid token is served.
        staff = await authenticate(request.app[CONTEXT], token.strip())
        if staff is None:
            return await _refused(failures, address, "The token is unknown, expired or revoked.")
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
