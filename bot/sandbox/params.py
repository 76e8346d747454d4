"""Decoding Bot API parameters the way the real server accepts them.

Telegram takes parameters from the query string, ``application/x-www-form-urlencoded``,
``application/json`` and ``multipart/form-data``. In the form and query encodings every value is
a string and complex values (``reply_markup``, ``entities``, ``commands``...) are JSON text; PTB
22 sends exactly that. :func:`decode_request` turns all four into one dict of Python values, so a
recorded call looks the same whichever encoding the client chose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from bot.sandbox.faults import BotApiFault

# Values that are JSON objects or arrays in the Bot API; in form encodings they arrive as text.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "allowed_updates",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
        "rights",
        "permissions",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "max_connections",
        "cache_time",
        "message_thread_id",
        "from_chat_id",
    }
)
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "show_alert",
        "drop_pending_updates",
        "disable_content_type_detection",
        "has_spoiler",
        "show_caption_above_media",
    }
)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request; the sandbox keeps only what a test asserts on."""

    filename: str | None
    content_type: str | None
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size}


async def decode_request(request: web.Request) -> dict[str, Any]:
    """All parameters of a Bot API request, normalised; body values override query values."""
    params: dict[str, Any] = dict(request.query) if request.query_string else {}
    content_type = request.content_type
    if request.can_read_body:
        if content_type == "application/json":
            params.update(await _json_body(request))
        elif content_type == "multipart/form-data":
            params.update(await _multipart_body(request))
        else:
            # Telegram treats a body without a content type as a form, and so does PTB's httpx.
            params.update(await request.post())
    return normalise(params)


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """Parse JSON-as-text fields and number/boolean strings; leave undecodable values as given.

    A value that cannot be decoded stays a string, and the method that needs it answers the 400
    Telegram would.
    """
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in JSON_FIELDS:
                value = _maybe_json(value)
            elif key in INT_FIELDS:
                value = _maybe_int(value)
            elif key in BOOL_FIELDS:
                value = _maybe_bool(value)
        params[key] = value
    return params


async def _json_body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BotApiFault.bad_request("can't parse JSON object") from exc
    if not isinstance(body, dict):
        raise BotApiFault.bad_request("JSON object expected")
    return body


async def _multipart_body(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = await part.read()
        if part.filename is not None:
            params[part.name] = UploadedFile(
                filename=part.filename,
                content_type=part.headers.get("Content-Type"),
                size=len(data),
            )
        else:
            params[part.name] = data.decode(part.get_charset("utf-8"))
    return params


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _maybe_int(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        return value


def _maybe_bool(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    return value


class Params:
    """Typed access to one call's parameters, answering Telegram's 400s for bad values."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def get_int(
        self, name: str, *, required: bool = False, missing: str | None = None
    ) -> int | None:
        """An integer parameter; ``missing`` describes the 400 when a required one is absent."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise BotApiFault.bad_request(missing or f"{name} is empty")
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise BotApiFault.bad_request(f"invalid {name} specified")
        try:
            return int(value)
        except ValueError as exc:
            raise BotApiFault.bad_request(f"invalid {name} specified") from exc

    def get_str(self, name: str, *, default: str | None = None) -> str | None:
        """A string parameter; numbers sent as JSON are accepted as their text, like Telegram."""
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if not isinstance(value, str):
            raise BotApiFault.bad_request(f"{name} must be a string")
        return value

    def get_bool(self, name: str, *, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        raise BotApiFault.bad_request(f"invalid {name} specified")

    def get_object(self, name: str, *, what: str | None = None) -> dict[str, Any] | None:
        """A JSON object parameter; ``what`` names it in the 400 like Telegram does."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, dict):
            raise BotApiFault.bad_request(f"can't parse {what or name} JSON object")
        return value

    def get_list(self, name: str, *, what: str | None = None) -> list[Any] | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, list):
            raise BotApiFault.bad_request(f"can't parse {what or name} JSON array")
        return value
