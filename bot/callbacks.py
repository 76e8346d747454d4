"""Callback data of inline buttons: ``q:<prompt>:<action>[:<arg>]``, at most 64 bytes.

The data comes back from the client, so decoding is strict and returns None for anything
unexpected; ownership and state are then checked against the database by the service.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from uuid import UUID

MAX_BYTES = 64
_PART = re.compile(r"^[A-Za-z0-9_-]{1,24}$")


@dataclass(frozen=True)
class QuestionButton:
    prompt_id: UUID
    action: str
    arg: str | None = None


def _short(uuid: UUID) -> str:
    return base64.urlsafe_b64encode(uuid.bytes).decode("ascii").rstrip("=")


def _long(text: str) -> UUID | None:
    if len(text) != 22 or not _PART.match(text):
        return None
    try:
        return UUID(bytes=base64.urlsafe_b64decode(text + "=="))
    except ValueError:
        return None


def encode_question(prompt_id: UUID | str, action: str, arg: str | None = None) -> str:
    prompt = prompt_id if isinstance(prompt_id, UUID) else UUID(prompt_id)
    data = f"q:{_short(prompt)}:{action}" + (f":{arg}" if arg else "")
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> QuestionButton | None:
    """The button, or None for data that is not ours (forged, old format, garbage)."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) not in (3, 4) or parts[0] != "q":
        return None
    if not all(_PART.match(part) for part in parts[2:]):
        return None
    prompt_id = _long(parts[1])
    if prompt_id is None:
        return None
    return QuestionButton(prompt_id, parts[2], parts[3] if len(parts) == 4 else None)
