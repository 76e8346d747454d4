"""Long polling that confirms an update only after it has been processed.

PTB's Updater confirms a batch as soon as it is fetched, so updates still queued when the
process dies are lost. Here the updates of a batch are processed concurrently across chats and
in order within a chat (bot.lanes), and the offset sent with the next getUpdates, which
confirms every update below it, is the first update not yet finished: a crash or a failure
means Telegram delivers the unfinished ones again, and ``processed_updates`` makes a repeat of
one that did finish harmless.

While updates are unfinished, Telegram answers getUpdates at once with them (they are not
confirmed), so the poller then asks again only when the offset has moved or a moment has
passed; when nothing is in hand it long-polls.

Telegram allows one poller per bot (a second gets 409 Conflict), so with several instances
in the bot role the one holding the "poller" lease polls and the others stand by; the long
poll is half the lease, so the holder renews in time and a successor waits at most one lease.

Nothing watches the polling task, so it must not die: every failure is logged and retried
with backoff (a refused token included: it may be fixed on the server side).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
from telegram.error import InvalidToken, RetryAfter, TimedOut
from telegram.ext import Application

from backend import metrics
from backend.logs import describe_error
from backend.storage.database import UNAVAILABLE
from backend.storage.leases import Lease
from bot.ingest import UpdateProcessor, update_id_of
from bot.lanes import ChatLanes
from bot.sender import retry_after_seconds

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
MAX_BACKOFF = 60.0
BATCH = 100  # getUpdates' largest limit
RECHECK = 0.25  # seconds: how long to wait for progress before asking Telegram again
# While updates are in hand, Telegram answers every getUpdates at once with them all again (up
# to 100): asked after every finished update, the poller spent more time reading repeats than
# the updates took. At most this often, then, unless the last answer brought new ones.
BUSY_INTERVAL = 0.05
SHUTDOWN_GRACE = 5.0  # seconds the updates in hand get to finish when the poller stops


class PollerHealth:
    """Consecutive failures, for the backoff; what an operator needs to notice a poller that is
    alive but not getting updates goes to the metrics (``diary_telegram_last_poll_timestamp_
    seconds``, ``diary_telegram_poll_failures_total``)."""

    def __init__(self) -> None:
        self.failures = 0  # consecutive failed polls

    def polled(self) -> None:
        self.failures = 0
        metrics.POLL_LAST_SUCCESS.set(time.time())

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        metrics.POLL_FAILURES.labels(type(error).__name__).inc()

    @property
    def backoff(self) -> float:
        return min(MAX_BACKOFF, 0.5 * 2**self.failures)


class PollWindow:
    """The updates fetched and not yet finished; the offset confirms everything before the
    first of them."""

    def __init__(self) -> None:
        self._unfinished: set[int] = set()
        self._last: int | None = None  # the highest update id taken
        self._progress = asyncio.Event()

    @property
    def busy(self) -> bool:
        return bool(self._unfinished)

    @property
    def offset(self) -> int | None:
        if self._unfinished:
            return min(self._unfinished)
        return None if self._last is None else self._last + 1

    def take(self, raw: list[Any], offset: int | None) -> list[dict]:
        """The updates of a batch fetched with ``offset`` that were not taken before. An
        offset at or below the last update taken was sent while updates were in hand:
        Telegram sends those again (and any finished after them), and they are skipped, even
        if they finished while the batch was on its way. An offset past it confirmed
        everything: all that comes is new (lower ids too: a Bot API server numbering anew)."""
        repeats_possible = offset is not None and self._last is not None and offset <= self._last
        fresh = []
        for data in raw:
            update_id = update_id_of(data)
            if update_id is None:
                # Without an id it cannot be confirmed on its own; the next good one does.
                log.warning("an update without an update_id was skipped")
                metrics.UPDATES_SKIPPED.inc()
                continue
            if repeats_possible and self._last is not None and update_id <= self._last:
                continue
            self._unfinished.add(update_id)
            self._last = update_id
            fresh.append(data)
        return fresh

    def finished(self, update_id: int) -> None:
        self._unfinished.discard(update_id)
        self._progress.set()

    async def progress(self, timeout: float) -> None:
        """Until an update finishes or ``timeout`` passes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout)
        self._progress.clear()


async def poll_forever(
    application: Application,
    processor: UpdateProcessor,
    lease: Lease | None = None,
    lanes: ChatLanes | None = None,
) -> None:
    """Poll while holding ``lease`` (if given), releasing it when cancelled."""
    lanes = lanes or ChatLanes(processor.process)
    try:
        await _poll(application, lanes, lease, PollerHealth())
    finally:
        await lanes.close(SHUTDOWN_GRACE)
        if lease:
            with contextlib.suppress(*UNAVAILABLE, asyncpg.PostgresError):
                await asyncio.shield(lease.release())


async def _poll(
    application: Application, lanes: ChatLanes, lease: Lease | None, health: PollerHealth
) -> None:
    window = PollWindow()
    loop = asyncio.get_running_loop()
    timeout = max(1, int(lease.ttl.total_seconds() / 2)) if lease else 30
    while True:
        try:
            if lease and not await _holds(lease):
                # The other poller gets the unconfirmed updates again: what we still have in
                # hand is let finish briefly and then dropped, so that no chat's updates run
                # on two instances at once (the update keys make anything done twice
                # harmless, but not out of order).
                if window.busy:
                    await lanes.close(SHUTDOWN_GRACE)
                window = PollWindow()
                await asyncio.sleep(timeout / 2)
                continue
            started = loop.time()
            offset = window.offset
            try:
                raw = await _fetch(application, offset, 0 if window.busy else timeout)
            except TimedOut:
                # The server held the long poll past our read timeout: nothing came, no error.
                raw = []
            health.polled()
            fresh = window.take(raw, offset)
            for data in fresh:
                lanes.add(data, window.finished)
            if fresh:
                continue  # the batch may have been full: ask for more at once
            if window.busy:
                await window.progress(RECHECK)
                # A pacing of our own requests, not a wait for something to happen.
                await asyncio.sleep(max(0.0, started + BUSY_INTERVAL - loop.time()))
            elif loop.time() - started < 1:
                # A Bot API server that ignores the long-poll timeout, or a batch of updates
                # without ids, must not make us spin.
                await asyncio.sleep(1)
        except Exception as error:  # noqa: BLE001 - the poller must survive anything
            health.failed(error)
            delay = _delay(error, health)
            _log_failure(error, delay, application.bot.token)
            await asyncio.sleep(delay)


async def _fetch(application: Application, offset: int | None, timeout: int) -> list[Any]:
    """One getUpdates call, unparsed. ``Bot.get_updates`` parses the whole batch at once: one
    update it cannot parse fails the batch for good and PTB logs the raw batch, personal data
    and all, at CRITICAL. So we post the call ourselves and parse update by update."""
    result = await application.bot._post(  # noqa: SLF001 - see the docstring
        "getUpdates",
        {"offset": offset, "limit": BATCH, "timeout": timeout, "allowed_updates": ALLOWED_UPDATES},
        read_timeout=timeout + 10,
    )
    if not isinstance(result, list):
        raise TypeError(f"getUpdates answered a {type(result).__name__}, not a list")
    return result


def _delay(error: Exception, health: PollerHealth) -> float:
    """Telegram's retry_after for a 429, else exponential backoff up to a minute."""
    if isinstance(error, RetryAfter):
        return max(1.0, retry_after_seconds(error))
    return health.backoff


def _log_failure(error: Exception, delay: float, token: str) -> None:
    if isinstance(error, InvalidToken):
        # PTB raises InvalidToken for 401 and for 404 (an unknown token looks like an unknown
        # path to Telegram). Either may be a Bot API server that is misconfigured or still
        # starting, and fixable without restarting us: keep trying, loudly.
        log.error(
            "getUpdates: the Bot API server refused the token or does not know the method "
            "(401/404); check DIARY_TELEGRAM_TOKEN and DIARY_TELEGRAM_API_URL. Retrying in "
            "%.0f s",
            delay,
        )
        return
    log.warning("polling failed (%s); retrying in %.1f s", describe_error(error, token), delay)


async def _holds(lease: Lease) -> bool:
    was = lease.held
    try:
        held = await lease.hold()
    except (*UNAVAILABLE, asyncpg.PostgresError) as error:
        log.warning("polling paused: database unavailable (%s)", type(error).__name__)
        lease.held = False
        return False
    if held and not was:
        log.info("this instance polls Telegram for updates now")
    elif was and not held:
        log.warning("another instance polls Telegram now")
    return held
