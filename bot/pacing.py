"""Telegram's flood limits, kept on our side so that Telegram never has to answer 429.

- overall: the configured rate (about 30/s, up to 1000/s with paid broadcasts), evenly spaced
  by a leaky bucket (aiolimiter) at 99.5% of the rate, and checked against Telegram's rule of
  at most ``rate`` messages in any second. The bucket holds a message and a little slack, so a
  sender woken a millisecond late catches up instead of losing that time for good. The check
  keeps a catch-up, or requests bunched up on their way, from ever putting one message too
  many into a second: a send waits until the answer to the send ``rate`` sends before it is a
  second old. Telegram counted that earlier one before it answered, and counts this one after
  we send it, so the two are a second apart at Telegram however the network and its servers
  delay them. Even spacing alone needs a wider margin for that (98% until December 2026: 2%
  of the rate lost for good, and still a 429 when requests bunch up by more than 15 ms);
- one private chat: one new message per second (edits and callback answers are not counted);
- one group: 20 messages in any minute, edits included, and at most one a second: a burst of
  alerts in a busy hour goes out at once instead of one every three seconds;
- a 429 pauses everything for ``retry_after`` seconds.

Per chat we pace at 98% of the nominal rates: requests can arrive a few milliseconds closer
together than they were sent, and a window that then holds one message too many is exactly
what earns a 429.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict, deque

from aiolimiter import AsyncLimiter

MARGIN = 0.98  # pace each chat at 98% of its nominal rate
OVERALL_MARGIN = 0.995  # the overall rate's spacing; the window check below does the rest
SLACK = 0.15  # of one message: how far a late sender may catch up
WINDOW = 1.0  # Telegram's overall limit: ``rate`` messages in any second
WINDOW_GUARD = 0.001  # two clocks' readings on one machine may disagree by a tick
UNANSWERED_POLL = 0.005  # how often to look again when the send to wait for is not answered
MAX_WINDOWED_RATE = 1000  # Telegram's highest (paid) rate; above it the limits are off
PRIVATE_SPACING = 1.0 / MARGIN  # seconds between new messages to one person
GROUP_WINDOW = 60.0 / MARGIN  # at most GROUP_BURST messages to one group in this many seconds
GROUP_BURST = 20
# Answering a button press sends no message: no flood limit applies (and it must be quick).
UNCOUNTED = frozenset({"answerCallbackQuery"})
PRIVATE_FREE = frozenset({"answerCallbackQuery", "editMessageText", "editMessageReplyMarkup"})
_REMEMBERED_CHATS = 100_000


def is_group(chat_id: int) -> bool:
    return chat_id < 0


class Turn:
    """A send the pacer let go: tell it when Telegram's answer (or an error) came back."""

    __slots__ = ("answered_at",)

    def __init__(self) -> None:
        self.answered_at = math.inf

    def answered(self) -> None:
        if self.answered_at == math.inf:
            self.answered_at = asyncio.get_running_loop().time()


class Pacer:
    def __init__(self, rate: float):
        self.rate = rate
        # Beyond Telegram's highest rate the overall limit is off (benchmarks measure the
        # sender's capacity so): no bucket, and no record of the last ``rate`` sends.
        limited = rate <= MAX_WINDOWED_RATE
        spacing = (1 + SLACK) / (rate * OVERALL_MARGIN)
        self._overall = AsyncLimiter(1 + SLACK, spacing) if limited else None
        per_window = int(rate * WINDOW) if limited else 0
        self._recent: deque[Turn] | None = deque(maxlen=per_window) if per_window else None
        self._next_for_chat: OrderedDict[int, float] = OrderedDict()
        self._group_sends: dict[int, deque[float]] = {}  # the last GROUP_BURST sends per group
        self._paused_until = 0.0

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def chat_delay(self, chat_id: int, method: str) -> float:
        """Seconds until ``chat_id`` may receive a ``method`` call (0 if now)."""
        if method in UNCOUNTED or (not is_group(chat_id) and method in PRIVATE_FREE):
            return 0.0
        now = self._now()
        delay = self._next_for_chat.get(chat_id, 0.0) - now
        sends = self._group_sends.get(chat_id) if is_group(chat_id) else None
        if sends is not None and len(sends) == GROUP_BURST:
            delay = max(delay, sends[0] + GROUP_WINDOW - now)  # the window is full
        return max(0.0, delay)

    async def turn(self, chat_id: int, method: str) -> Turn | None:
        """Wait for a slot in the overall rate and count the call against the chat; call right
        before the request, and ``answered()`` the turn when its answer is back. None while a
        429 pause lasts: the caller defers instead."""
        if self.paused_for:
            return None
        turn = Turn()
        if method not in UNCOUNTED and self._overall is not None:
            await self._overall.acquire()
            while True:  # checked again after a wait: another send may have taken the place
                wait = self._window_wait()
                if not wait:
                    break
                await asyncio.sleep(wait)
            if self.paused_for:  # a 429 arrived while we waited for the slot
                return None
            if self._recent is not None:
                self._recent.append(turn)
        if method not in UNCOUNTED and (is_group(chat_id) or method not in PRIVATE_FREE):
            now = self._now()
            self._next_for_chat[chat_id] = now + PRIVATE_SPACING
            if is_group(chat_id):
                self._group_sends.setdefault(chat_id, deque(maxlen=GROUP_BURST)).append(now)
            self._next_for_chat.move_to_end(chat_id)
            if len(self._next_for_chat) > _REMEMBERED_CHATS:
                self._next_for_chat.popitem(last=False)  # long past its spacing anyway
        return turn

    def _window_wait(self) -> float:
        """Seconds until one more send keeps every window within the rate (0 if now)."""
        recent = self._recent
        if recent is None or len(recent) < recent.maxlen:
            return 0.0
        answered = recent[0].answered_at
        if answered == math.inf:  # still on its way (slow network, or Telegram)
            return UNANSWERED_POLL
        return max(0.0, answered + WINDOW + WINDOW_GUARD - self._now())

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends until the pause is over."""
        self._paused_until = max(self._paused_until, self._now() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._now())
