"""Bearer-token authentication for every ``/api/v1`` route."""

from __future__ import annotations

from aiohttp import web

from backend.api.keys import CONTEXT, STAFF
from backend.api.problems import Handler, problem
from backend.services.staff import authenticate

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="symptom-diary"'}


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return problem(
            401,
            "Unauthorized",
            "An Authorization: Bearer <token> header is required.",
            headers=_CHALLENGE,
        )
    if scheme.lower() != "bearer" or not token.strip():
        return problem(
            401,
            "Unauthorized",
            "The Authorization header must be 'Bearer <token>'.",
            headers=_CHALLENGE,
        )
    staff = await authenticate(request.app[CONTEXT], token.strip())
    if staff is None:
        return problem(
            401, "Unauthorized", "The token is unknown, expired or revoked.", headers=_CHALLENGE
        )
    request[STAFF] = staff
    return await handler(request)
