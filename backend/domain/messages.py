"""What the service says, as data: stored in the outbox, rendered by the bot at send time.

Keeping the outbox semantic (a kind plus data plus a language) lets backend code enqueue
messages without knowing Telegram, and lets a message be rendered in the language the person
has at the moment it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any
from uuid import UUID


class Priority(IntEnum):
    """Lower is sent first: an authority alert must never wait behind a broadcast."""

    # Authority alerts, and the answer to a button press: no flood limit applies to it, and
    # the person watches a spinner until it arrives (at the morning peak it waited behind
    # everyone's edits, which Telegram's limit paces).
    ALERT = 0
    INTERACTIVE = 1
    PROMPT = 2
    BROADCAST = 3


class Kind(StrEnum):
    PROMPT = "prompt"  # the daily question; payload: prompt, label
    QUESTIONNAIRE = "questionnaire"  # edit the prompt message to show a step; payload: see bot
    ANSWER_CALLBACK = "answer_callback"  # answerCallbackQuery; payload: query, notice
    REPLY = "reply"  # a message named payload["message"] with payload["params"] (+ keyboard)
    EDIT = "edit"  # replace message payload["message_id"] with a named message
    CLEAR_BUTTONS = "clear_buttons"  # remove the keyboard of payload["message_id"]
    REMINDER = "reminder"  # "today's questions are still open"; payload: prompt
    CLOSING = "closing"  # the end of monitoring; payload: end
    BROADCAST = "broadcast"  # a staff notice; payload: text (already in the person's language)
    ALERT = "alert"  # an escalation posted to an authority group; payload: the alert's view
    ALERT_UPDATE = "alert_update"  # an alert message edited (claimed, resolved, new reasons)


NO_REGION = ""  # outbox rows for chats that belong to no case (yet)

# A payload's "next" (when the next questions come) is an ISO time, or one of these: the
# person used /stop, or the quarantine has no prompt left.
NEXT_PAUSED = "paused"
NEXT_ENDED = "ended"


@dataclass(frozen=True)
class Outgoing:
    chat_id: int
    kind: Kind
    language: str
    priority: Priority
    dedup_key: str
    payload: dict[str, Any] = field(default_factory=dict)
    region: str = NO_REGION
    subject_id: UUID | None = None  # what the message is about (an alert), to find it again
