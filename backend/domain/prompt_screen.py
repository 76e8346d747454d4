"""Where a prompt's questionnaire is on the person's screen, known from the prompt alone.

A step is drawn on one message and edited there after each button; after a typed answer or a
command it is sent anew at the bottom of the chat, and the copy above loses its buttons. A
button pressed on such an older copy (its keyboard removed late, or a double tap) must answer
"closed", so that two copies can never move the questionnaire apart.

The prompt's stored draft keeps what that takes: the message last pressed and the older copies
it knows of. The outbox can tell the same (every copy is a row there), but the outbox is what
the sender updates all morning, and under SERIALIZABLE reading it from an answer's transaction
makes the answer and the sender conflict. So the outbox is read only when the draft cannot
tell: a copy was sent anew before the one it replaced had reached Telegram, or the draft was
written before this bookkeeping existed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

MAX_REPLACED = 16  # copies remembered; beyond that the outbox decides (a person typing a lot)


@dataclass(frozen=True)
class OnScreen:
    pressed: int | None = None  # the message last pressed: the step is on it now
    replaced: tuple[int, ...] = ()  # older copies, sent anew below
    complete: bool = True  # every older copy is in ``replaced``

    @classmethod
    def from_draft(cls, draft: dict[str, Any]) -> OnScreen:
        if not draft:  # never touched: the prompt message is the only copy
            return cls()
        replaced = draft.get("replaced")
        return cls(
            pressed=draft.get("message_id"),
            replaced=tuple(replaced) if isinstance(replaced, list) else (),
            complete=draft.get("copies_complete") is True,  # absent: written before it existed
        )

    def to_draft(self) -> dict[str, Any]:
        """The keys to store in the prompt's draft beside the answers so far."""
        return {
            "message_id": self.pressed,
            "replaced": list(self.replaced),
            "copies_complete": self.complete,
        }

    def shows(self, message_id: int) -> bool | None:
        """Whether the step is on ``message_id`` now: True, False for an older copy, None when
        only the outbox can tell."""
        if message_id == self.pressed:
            return True
        if message_id in self.replaced:
            return False
        return True if self.complete else None

    def pressed_on(self, message_id: int) -> OnScreen:
        return replace(self, pressed=message_id)

    def sent_anew(self, old: int | None) -> OnScreen:
        """The step goes out as a new message below ``old``, the copy on screen until now
        (None: not known, still on its way to Telegram)."""
        if old is None:
            return replace(self, pressed=None, complete=False)
        replaced = (*self.replaced, old)
        return OnScreen(
            pressed=None,
            replaced=replaced[-MAX_REPLACED:],
            complete=self.complete and len(replaced) <= MAX_REPLACED,
        )
