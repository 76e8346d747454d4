"""Reading requests: JSON bodies and id path parameters, with errors that name the field."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from backend.domain.errors import Invalid, NotFound


async def json_body(request: web.Request) -> bytes:
    if request.content_type not in ("application/json", "application/problem+json"):
        raise Invalid("body", "send the body as application/json.")
    return await request.read()


def uuid_param(request: web.Request, name: str, what: str) -> UUID:
    """A UUID path parameter; anything else names nothing, exactly like an unknown id."""
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"{what} {request.match_info[name]!r} not found.") from None
