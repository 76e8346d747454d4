"""Callback data of inline buttons, at most 64 bytes:

- ``q:<prompt>:<action>[:<arg>]`` a questionnaire button (prompt id in 22 base64 characters);
- ``l:<language>:<menu>`` a language in the /language menu;
- ``s:y:<menu>`` / ``s:n:<menu>`` the /stop confirmation.

``<menu>`` names the menu message (the outbox row it was sent as), so that a menu's answer
counts on that menu only; data without it (an older format, or forged) decodes to None.

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


@dataclass(frozen=True)
class LanguageButton:
    language: str
    menu_id: UUID


@dataclass(frozen=True)
class StopButton:
    yes: bool
    menu_id: UUID


@dataclass(frozen=True)
class AlertButton:
    escalation_id: UUID
    action: str  # c: claim, r: resolve (ask for a comment), n: resolve without comment


@dataclass(frozen=True)
class BroadcastButton:
    draft_id: UUID
    send: bool


Button = QuestionButton | LanguageButton | StopButton | AlertButton | BroadcastButton
_LANGUAGE = re.compile(r"^l:([a-z]{2,3}):([A-Za-z0-9_-]{22})$")
_STOP = re.compile(r"^s:([yn]):([A-Za-z0-9_-]{22})$")
_ALERT = re.compile(r"^a:([crn]):([A-Za-z0-9_-]{22})$")
_BROADCAST = re.compile(r"^b:([yn]):([A-Za-z0-9_-]{22})$")


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


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def encode_language(language: str, menu_id: UUID | str) -> str:
    return f"l:{language}:{_short(_uuid(menu_id))}"


def encode_stop(yes: bool, menu_id: UUID | str) -> str:
    return f"s:{'y' if yes else 'n'}:{_short(_uuid(menu_id))}"


def encode_alert(escalation_id: UUID | str, action: str) -> str:
    escalation = escalation_id if isinstance(escalation_id, UUID) else UUID(escalation_id)
    return f"a:{action}:{_short(escalation)}"


def encode_broadcast(draft_id: UUID | str, send: bool) -> str:
    draft = draft_id if isinstance(draft_id, UUID) else UUID(draft_id)
    return f"b:{'y' if send else 'n'}:{_short(draft)}"


def decode(data: str | None) -> Button | None:
    """The button, or None for data that is not ours (forged, old format, garbage)."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    if match := _LANGUAGE.match(data):
        menu = _long(match.group(2))
        return LanguageButton(match.group(1), menu) if menu else None
    if match := _STOP.match(data):
        menu = _long(match.group(2))
        return StopButton(match.group(1) == "y", menu) if menu else None
    if match := _ALERT.match(data):
        escalation = _long(match.group(2))
        return AlertButton(escalation, match.group(1)) if escalation else None
    if match := _BROADCAST.match(data):
        draft = _long(match.group(2))
        return BroadcastButton(draft, match.group(1) == "y") if draft else None
    parts = data.split(":")
    if len(parts) not in (3, 4) or parts[0] != "q":
        return None
    if not all(_PART.match(part) for part in parts[2:]):
        return None
    prompt_id = _long(parts[1])
    if prompt_id is None:
        return None
    return QuestionButton(prompt_id, parts[2], parts[3] if len(parts) == 4 else None)
