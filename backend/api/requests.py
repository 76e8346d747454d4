"""Reading requests: JSON bodies, query strings and ids, with errors that name the field;
opaque keyset cursors for paged lists."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, TypeVar
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
    raw = await json_body(request)
    parsed = model.model_validate_json(raw)
    if b"\\u" in raw:  # in valid JSON a NUL can only arrive as the escape \u0000
        refuse_unstorable_text(json.loads(raw))
    return parsed


def refuse_unstorable_text(value: Any, field: str = "") -> None:
    """PostgreSQL's text cannot hold a NUL character: refuse it as an invalid field (it
    reached the driver and came back as a 500)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid(field or "body", "contains a NUL character, which text cannot hold.")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_unstorable_text(item, f"{field}.{key}" if field else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_unstorable_text(item, f"{field}.{index}" if field else str(index))


def query_of(request: web.Request, model: type[M]) -> M:
    """The query string as ``model``; a parameter given twice is an error, not a guess."""
    values: dict[str, str] = {}
    for name in request.query:
        given = request.query.getall(name)
        if len(given) > 1:
            raise Invalid(name, f"{name} may be given only once.")
        values[name] = given[0]
    refuse_unstorable_text(values)
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
        return datetime.fromisoformat(at), UUID(last_id)
    except (ValueError, TypeError):
        raise Invalid("cursor", "cursor is not one this API gave out.") from None
