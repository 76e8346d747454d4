"""Reading requests: JSON bodies, query strings and ids, with errors that name the field;
opaque keyset cursors for paged lists."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel

from backend.domain.errors import Invalid, NotFound

M = TypeVar("M", bound=BaseModel)


async def json_body(request: web.Request) -> bytes:
    if request.content_type not in ("application/json", "application/problem+json"):
        raise Invalid("body", "send the body as application/json.")
    return await request.read()


async def body_of(request: web.Request, model: type[M]) -> M:
    return model.model_validate_json(await json_body(request))


def query_of(request: web.Request, model: type[M]) -> M:
    """The query string as ``model``; a parameter given twice is an error, not a guess."""
    values: dict[str, str] = {}
    for name in request.query:
        given = request.query.getall(name)
        if len(given) > 1:
            raise Invalid(name, f"{name} may be given only once.")
        values[name] = given[0]
    return model.model_validate(values)


def uuid_param(request: web.Request, name: str, what: str) -> UUID:
    """A UUID path parameter; anything else names nothing, exactly like an unknown id."""
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound(f"{what} {request.match_info[name]!r} not found.") from None


def encode_cursor(at: datetime, last_id: UUID) -> str:
    raw = json.dumps([at.isoformat(), str(last_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, last_id = json.loads(raw)
        moment = datetime.fromisoformat(at)
        # Ours carry a time zone and a year the database can compare with.
        if moment.tzinfo is None or not 1900 <= moment.year <= 9000:
            raise ValueError(at)
        return moment, UUID(last_id)
    except (ValueError, TypeError):
        raise Invalid("cursor", "cursor is not one this API gave out.") from None
