"""Updates processed concurrently across chats and in order within a chat (long polling).

Each chat with updates in hand has a lane: its updates, oldest first, processed one after the
other by a task of its own; different chats' lanes run side by side, at most ``concurrency``
at a time. An update that was not committed (``Outcome.RETRY``) stays at the head of its lane
and is tried again after a growing pause, so the chat's later updates wait behind it (a
household's answers must not overtake each other) while every other chat goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from backend.logs import where_it_failed
from bot.ingest import Outcome, chat_key

log = logging.getLogger(__name__)

# Seconds between attempts at an update that was not committed, then 30 s each time. Short at
# first: while it waits, it holds the offset back, and getUpdates shows at most 100 updates
# past it, so a failure that lasts makes every chat wait once 99 later updates are done.
RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0)


class ChatLanes:
    def __init__(
        self,
        process: Callable[[dict], Awaitable[Outcome]],
        *,
        concurrency: int = 32,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ):
        self._process = process
        self._slots = asyncio.Semaphore(concurrency)
        self._retry_delays = tuple(retry_delays)
        self._lanes: dict[int | str, deque[tuple[dict, Callable[[int], None]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Updates in hand, waiting or being processed."""
        return sum(len(lane) for lane in self._lanes.values())

    def add(self, data: dict, finished: Callable[[int], None]) -> None:
        """Process ``data`` after the updates of its chat already in hand; call
        ``finished(update_id)`` once it is done or parked (never when it is to come again)."""
        key = chat_key(data)
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append((data, finished))
            return
        self._lanes[key] = deque([(data, finished)])
        task = asyncio.create_task(self._drive(key), name=f"updates-of-{key}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drive(self, key: int | str) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                data, finished = lane[0]
                await self._until_confirmed(data)
                lane.popleft()
                finished(data["update_id"])
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    async def _until_confirmed(self, data: dict) -> None:
        attempt = 0
        while True:
            async with self._slots:
                try:
                    outcome = await self._process(data)
                except Exception as error:  # noqa: BLE001 - a bug must not stop the chat for good
                    log.error("update %s: %s", data["update_id"], where_it_failed(error))
                    outcome = Outcome.RETRY
            if outcome.confirm:
                return
            delay = self._retry_delays[min(attempt, len(self._retry_delays) - 1)]
            attempt += 1
            await asyncio.sleep(delay)  # a backoff: the update stays unconfirmed meanwhile

    async def close(self, grace: float) -> None:
        """Let the updates being processed finish for ``grace`` seconds, then cancel the rest
        (unconfirmed, so Telegram delivers them again)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
