"""Telegram's flood limits as sliding windows, driven by an injectable monotonic clock.

Telegram documents the limits only loosely ("about one message per second in a chat, 20 per
minute in a group, 30 per second overall"); the real server lets a short burst through before it
answers 429. Each rule here is "at most N sends in any window of W seconds"; a short and a long
window together give a burst and a lower sustained rate.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """At most ``count`` sends within any ``seconds`` long window."""

    count: int
    seconds: float


@dataclass(frozen=True)
class RateLimits:
    """The windows enforced when :attr:`SandboxBotApi.enforce_limits` is on; a send must fit
    every window of its scope.

    The defaults: a private chat takes a burst of 3 within a second but no more than 10 in any 10
    seconds (1 per second sustained); a group 20 per minute; the whole bot 30 per second
    (``allow_paid_broadcast`` sends skip the overall windows, as paid broadcasts do on Telegram).
    """

    private_chat: tuple[Window, ...] = (Window(3, 1.0), Window(10, 10.0))
    group_chat: tuple[Window, ...] = (Window(20, 60.0),)
    overall: tuple[Window, ...] = (Window(30, 1.0),)


class RateLimiter:
    """Counts sends per chat and overall; answers how long to wait when a window is full."""

    def __init__(self, clock: Callable[[], float], limits: RateLimits | None = None) -> None:
        self._clock = clock
        self.limits = limits or RateLimits()
        self._per_chat: dict[int, deque[float]] = {}
        self._overall: deque[float] = deque()

    def acquire(self, chat_id: int, *, is_group: bool, paid_broadcast: bool = False) -> int | None:
        """Record one send to ``chat_id``, or return the ``retry_after`` seconds if over a limit.

        A refused send is not recorded, like Telegram, which does not count rejected messages.
        """
        now = self._clock()
        chat_times = self._per_chat.setdefault(chat_id, deque())
        checks = [(chat_times, self.limits.group_chat if is_group else self.limits.private_chat)]
        if not paid_broadcast:
            checks.append((self._overall, self.limits.overall))
        wait = 0.0
        for times, windows in checks:
            longest = max((window.seconds for window in windows), default=0.0)
            _prune(times, now - longest)
            for window in windows:
                recent = [t for t in times if t > now - window.seconds]
                if len(recent) >= window.count:
                    # Possible again once the oldest send that fills the window drops out of it.
                    oldest = recent[len(recent) - window.count]
                    wait = max(wait, oldest + window.seconds - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        chat_times.append(now)
        self._overall.append(now)
        return None

    def reset(self) -> None:
        """Forget all recorded sends."""
        self._per_chat.clear()
        self._overall.clear()


def _prune(times: deque[float], horizon: float) -> None:
    while times and times[0] <= horizon:
        times.popleft()
