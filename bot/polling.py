"""Long polling that confirms an update only after it has been processed.

PTB's Updater confirms a batch as soon as it is fetched, so updates still queued when the
process dies are lost. Here the offset advances after ``process_update`` returns; a crash
means Telegram delivers the update again, and ``processed_updates`` makes that harmless.

Telegram allows one poller per bot (a second gets 409 Conflict), so with several instances
in the bot role the one holding the "poller" lease polls and the others stand by; the long
poll is half the lease, so the holder renews in time and a successor waits at most one lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from backend.logs import UPDATE_ID
from backend.storage.database import UNAVAILABLE
from backend.storage.leases import Lease

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


async def poll_forever(application: Application, lease: Lease | None = None) -> None:
    """Poll while holding ``lease`` (if given), releasing it when cancelled."""
    try:
        await _poll(application, lease)
    finally:
        if lease:
            with contextlib.suppress(*UNAVAILABLE, asyncpg.PostgresError):
                await asyncio.shield(lease.release())


async def _poll(application: Application, lease: Lease | None) -> None:
    bot = application.bot
    offset: int | None = None
    failures = 0
    loop = asyncio.get_running_loop()
    timeout = max(1, int(lease.ttl.total_seconds() / 2)) if lease else 30
    while True:
        if lease and not await _holds(lease):
            offset = None  # the other poller has confirmed what it processed
            await asyncio.sleep(timeout / 2)
            continue
        started = loop.time()
        try:
            updates = await bot.get_updates(
                offset=offset,
                timeout=timeout,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=timeout + 5,
            )
            failures = 0
        except InvalidToken:
            log.error("Telegram refused the bot token; polling stops")
            raise
        except (Conflict, RetryAfter, TelegramError) as error:
            failures += 1
            delay = min(60.0, 0.5 * 2**failures)
            log.warning("getUpdates failed (%s); retrying in %.1f s", type(error).__name__, delay)
            await asyncio.sleep(delay)
            continue
        if not updates and loop.time() - started < 1:
            # A Bot API server that ignores the long-poll timeout must not make us spin.
            await asyncio.sleep(1)
        # A batch that outlasts the lease may be fetched again by a successor; processed_updates
        # makes that harmless, as it does after a crash.
        for update in updates:
            token = UPDATE_ID.set(update.update_id)
            try:
                await application.process_update(update)
            finally:
                UPDATE_ID.reset(token)
            offset = update.update_id + 1


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
