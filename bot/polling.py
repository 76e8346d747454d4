"""Long polling that confirms an update only after it has been processed.

PTB's Updater confirms a batch as soon as it is fetched, so updates still queued when the
process dies are lost. Here the offset advances after ``process_update`` returns; a crash
means Telegram delivers the update again, and ``processed_updates`` makes that harmless.
"""

from __future__ import annotations

import asyncio
import logging

from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


async def poll_forever(application: Application, timeout: int = 30) -> None:
    bot = application.bot
    offset: int | None = None
    failures = 0
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            updates = await bot.get_updates(
                offset=offset,
                timeout=timeout,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=timeout + 10,
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
        for update in updates:
            await application.process_update(update)
            offset = update.update_id + 1
