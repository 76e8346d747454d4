"""Long polling that confirms an update only after it has been processed.

PTB's Updater confirms a batch as soon as it is fetched, so updates still queued when the
process dies are lost. Here the offset advances after ``process_update`` returns; a crash
means Telegram delivers the update again, and ``processed_updates`` makes that harmless.

Telegram allows one poller per bot (a second gets 409 Conflict), so with several instances
in the bot role the one holding the "poller" lease polls and the others stand by; the long
poll is half the lease, so the holder renews in time and a successor waits at most one lease.

Nothing watches the polling task, so it must not die: every failure is logged and retried
with backoff (a refused token included: it may be fixed on the server side), and an update
that cannot be parsed is skipped rather than fetched again forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import asyncpg
from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TimedOut
from telegram.ext import Application

from backend import metrics
from backend.logs import UPDATE_ID, describe_error
from backend.storage.database import UNAVAILABLE
from backend.storage.leases import Lease
from bot.sender import retry_after_seconds

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
MAX_BACKOFF = 60.0


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


async def poll_forever(application: Application, lease: Lease | None = None) -> None:
    """Poll while holding ``lease`` (if given), releasing it when cancelled."""
    try:
        await _poll(application, lease, PollerHealth())
    finally:
        if lease:
            with contextlib.suppress(*UNAVAILABLE, asyncpg.PostgresError):
                await asyncio.shield(lease.release())


async def _poll(application: Application, lease: Lease | None, health: PollerHealth) -> None:
    offset: int | None = None
    loop = asyncio.get_running_loop()
    timeout = max(1, int(lease.ttl.total_seconds() / 2)) if lease else 30
    while True:
        try:
            if lease and not await _holds(lease):
                offset = None  # the other poller has confirmed what it processed
                await asyncio.sleep(timeout / 2)
                continue
            started = loop.time()
            try:
                raw = await _fetch(application, offset, timeout)
            except TimedOut:
                # The server held the long poll past our read timeout: nothing came, no error.
                raw = []
            health.polled()
            if not raw and loop.time() - started < 1:
                # A Bot API server that ignores the long-poll timeout must not make us spin.
                await asyncio.sleep(1)
            # A batch that outlasts the lease may be fetched again by a successor;
            # processed_updates makes that harmless, as it does after a crash.
            before = offset
            for data in raw:
                offset = await _process(application, data, offset)
            if raw and offset == before:
                # Nothing in the batch could be confirmed (no update ids): do not spin on it.
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
        {"offset": offset, "timeout": timeout, "allowed_updates": ALLOWED_UPDATES},
        read_timeout=timeout + 10,
    )
    if not isinstance(result, list):
        raise TypeError(f"getUpdates answered a {type(result).__name__}, not a list")
    return result


async def _process(application: Application, data: object, offset: int | None) -> int | None:
    """Process one raw update; return the offset that confirms it."""
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        # Without an id it cannot be confirmed on its own; the next good one confirms it.
        log.warning("an update without an update_id was skipped")
        metrics.UPDATES_SKIPPED.inc()
        return offset
    try:
        update = Update.de_json(data, application.bot)
    except Exception as error:  # noqa: BLE001 - any shape Telegram (or a test server) sends
        # Its id only: the content is a citizen's message.
        log.warning("update %s cannot be parsed (%s); skipped", update_id, type(error).__name__)
        metrics.UPDATES_SKIPPED.inc()
        return update_id + 1
    token = UPDATE_ID.set(update_id)
    try:
        await application.process_update(update)
    finally:
        UPDATE_ID.reset(token)
    return update_id + 1


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
