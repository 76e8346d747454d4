"""Telegram's flood limits, kept on our side so that Telegram never has to answer 429.

- overall: the configured rate (about 30/s, up to 1000/s with paid broadcasts), evenly spaced
  by a leaky bucket (aiolimiter) that holds a message and a little slack: Telegram counts in
  sliding windows, so the burst a larger bucket would allow could cross the limit, while the
  slack lets a sender woken a millisecond late catch up instead of losing that time for good;
- one private chat: one new message per second (edits and callback answers are not counted);
- one group: 20 messages in any minute, edits included, and at most one a second: a burst of
  alerts in a busy hour goes out at once instead of one every three seconds;
- a 429 pauses everything for ``retry_after`` seconds.

We pace at a small margin below the nominal rates: requests can arrive a few milliseconds
closer together than they were sent, and a window that then holds one message too many is
exactly what earns a 429.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

from aiolimiter import AsyncLimiter

MARGIN = 0.98  # pace at 98% of a nominal rate
SLACK = 0.15  # of one message: at 29.4/s a 1-second window still holds at most 30
PRIVATE_SPACING = 1.0 / MARGIN  # seconds between new messages to one person
GROUP_WINDOW = 60.0 / MARGIN  # at most GROUP_BURST messages to one group in this many seconds
GROUP_BURST = 20
# Answering a button press sends no message: no flood limit applies (and it must be quick).
UNCOUNTED = frozenset({"answerCallbackQuery"})
PRIVATE_FREE = frozenset({"answerCallbackQuery", "editMessageText", "editMessageReplyMarkup"})
_REMEMBERED_CHATS = 100_000


def is_group(chat_id: int) -> bool:
    return chat_id < 0


class Pacer:
    def __init__(self, rate: float):
        self.rate = rate
        self._overall = AsyncLimiter(1 + SLACK, (1 + SLACK) / (rate * MARGIN))
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

    async def turn(self, chat_id: int, method: str) -> bool:
        """Wait for a slot in the overall rate and count the call against the chat; call right
        before the request. False while a 429 pause lasts: the caller defers instead."""
        if self.paused_for:
            return False
        if method not in UNCOUNTED:
            await self._overall.acquire()
            if self.paused_for:  # a 429 arrived while we waited for the slot
                return False
        if method not in UNCOUNTED and (is_group(chat_id) or method not in PRIVATE_FREE):
            now = self._now()
            self._next_for_chat[chat_id] = now + PRIVATE_SPACING
            if is_group(chat_id):
                self._group_sends.setdefault(chat_id, deque(maxlen=GROUP_BURST)).append(now)
            self._next_for_chat.move_to_end(chat_id)
            if len(self._next_for_chat) > _REMEMBERED_CHATS:
                self._next_for_chat.popitem(last=False)  # long past its spacing anyway
        return True

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends until the pause is over."""
        self._paused_until = max(self._paused_until, self._now() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._now())
