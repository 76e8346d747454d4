"""Webhook delivery over loopback, concurrent across chats and in order within each, as Telegram.

Telegram's webhook sender keeps up to ``max_connections`` POSTs in flight, but never two of the
same chat: each chat's updates go out one after another, in id order, and a failed update is
retried (with growing delays) while the rest of its chat waits behind it. Other chats go on.

Here every chat with undelivered updates has a :class:`_Lane`, and ``max_connections`` workers
take ready lanes from one FIFO: a lane is in that FIFO at most once and held by at most one
worker, which gives both the connection limit and the per-chat order. A failed lane is put back
by a timer after its delay, so waiting for a retry holds no connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi
    from bot.sandbox.state import UpdateQueue

log = logging.getLogger(__name__)

_CHAT_KINDS = ("message", "edited_message", "my_chat_member", "chat_member")


def chat_of(update: dict[str, Any]) -> Hashable:
    """The key whose updates must go out one at a time: the chat id where the update has one.

    A callback query without its message (an inline message's button) belongs to the user who
    pressed it, whose private chat has the same id. Any other update is a queue of its own, so
    it never waits for anything: ``("update", update_id)``.
    """
    for kind in _CHAT_KINDS:
        chat_id = (update.get(kind) or {}).get("chat", {}).get("id")
        if chat_id is not None:
            return chat_id
    query = update.get("callback_query") or {}
    chat_id = (query.get("message") or {}).get("chat", {}).get("id")
    if chat_id is None:
        chat_id = (query.get("from") or {}).get("id")
    return chat_id if chat_id is not None else ("update", update["update_id"])


class Webhook:
    """The webhook setting and its delivery (see the module docstring).

    A non-2xx answer or a connection error is recorded for getWebhookInfo and the same update is
    retried after a short, growing delay (``retry_delays``), like Telegram's own retries but
    faster so tests don't wait. An update is confirmed (forgotten by the queue) once it got a
    2xx, and appended to :attr:`delivered`; that list is in completion order, which across
    chats need not be id order.
    """

    def __init__(self, api: SandboxBotApi) -> None:
        self._api = api
        self.url = ""
        self.secret_token: str | None = None
        self.max_connections = 40
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0)
        self.delivered: list[dict[str, Any]] = []
        self._delivery: _Delivery | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def delivering(self) -> bool:
        return self._delivery is not None

    async def set(self, url: str, secret_token: str | None, max_connections: int) -> None:
        await self.clear()
        self.url, self.secret_token, self.max_connections = url, secret_token, max_connections
        self.last_error_date = self.last_error_message = None
        self._delivery = _Delivery(self, self._api.state.updates)
        self._delivery.start()

    async def clear(self) -> None:
        """Stop delivering: in-flight POSTs are cancelled, and every update that got no 2xx
        stays queued for getUpdates."""
        self.url, self.secret_token = "", None
        delivery, self._delivery = self._delivery, None
        if delivery is not None:
            await delivery.stop()

    async def close(self) -> None:
        await self.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def attempt(self, update: dict[str, Any]) -> bool:
        """POST one update; True on a 2xx, else the error is recorded for getWebhookInfo."""
        try:
            error = await self._post(update)
        except Exception:  # a sandbox bug: keep it visible, keep delivering
            log.exception("webhook delivery failed")
            self._api.internal_errors.append(traceback.format_exc())
            error = "Internal sandbox error"
        if error is None:
            self.delivered.append(update)
            return True
        self.last_error_date = self._api.state.now()
        self.last_error_message = error
        return False

    def retry_delay(self, failures: int) -> float:
        """The wait before the next attempt of an update that failed ``failures`` times."""
        return self.retry_delays[min(failures, len(self.retry_delays)) - 1]

    async def _post(self, update: dict[str, Any]) -> str | None:
        """POST one update; None on success, else the error text getWebhookInfo reports."""
        if self._session is None:
            # aiohttp's default pool of 100 connections covers the largest max_connections.
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {}
        if self.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
        try:
            async with self._session.post(self.url, json=update, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.debug("webhook delivery to %s failed: %r", self.url, exc)
            return f"Connection failed: {exc.__class__.__name__}"


@dataclass
class _Lane:
    """One chat's undelivered updates, oldest first; the first is in flight or due next."""

    updates: deque[dict[str, Any]] = field(default_factory=deque)
    failures: int = 0  # of the first update


class _Delivery:
    """One setWebhook's delivery: a feeder moving new updates into lanes, and the workers."""

    def __init__(self, hook: Webhook, queue: UpdateQueue) -> None:
        self._hook = hook
        self._queue = queue
        self._taken_up_to = 0  # the newest update id moved into a lane
        self._lanes: dict[Hashable, _Lane] = {}
        self._ready: asyncio.Queue[Hashable] = asyncio.Queue()
        self._retry_timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._feed(), name="sandbox-webhook-feed"))
        for number in range(self._hook.max_connections):
            worker = asyncio.create_task(self._work(), name=f"sandbox-webhook-{number}")
            self._tasks.append(worker)

    async def stop(self) -> None:
        for timer in self._retry_timers.values():
            timer.cancel()
        self._retry_timers.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _feed(self) -> None:
        queue = self._queue
        while True:
            fresh = await queue.signal.wait_for(
                lambda: queue.newer_than(self._taken_up_to), timeout=3600
            )
            for update in fresh or ():
                self._taken_up_to = update["update_id"]
                self._add(update)

    def _add(self, update: dict[str, Any]) -> None:
        key = chat_of(update)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
            self._ready.put_nowait(key)
        lane.updates.append(update)

    async def _work(self) -> None:
        while True:
            key = await self._ready.get()
            lane = self._lanes[key]
            update = lane.updates[0]
            if await self._hook.attempt(update):
                self._queue.confirm(update["update_id"])
                self._next_in(key, lane)
            else:
                lane.failures += 1
                self._retry_later(key, self._hook.retry_delay(lane.failures))

    def _next_in(self, key: Hashable, lane: _Lane) -> None:
        lane.updates.popleft()
        lane.failures = 0
        if lane.updates:
            self._ready.put_nowait(key)  # behind the other ready chats: fair to all
        else:
            del self._lanes[key]

    def _retry_later(self, key: Hashable, delay: float) -> None:
        def due() -> None:
            del self._retry_timers[key]
            self._ready.put_nowait(key)

        self._retry_timers[key] = asyncio.get_running_loop().call_later(delay, due)
