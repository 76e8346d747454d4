"""The outbox sender: claims due messages, sends them through the Bot API, records the result.

Telegram's answers decide what happens to a message:
- accepted: marked sent (with its message id);
- 429 RetryAfter: the whole sender pauses for ``retry_after`` (Telegram's limit is per bot,
  not per chat), the message is due again after the pause;
- 403 Forbidden (blocked by the user) and 400 Bad Request: permanent, marked failed;
- an edit that changes nothing: counts as sent;
- network errors, timeouts, 5xx: retried with exponential backoff, failed after a while.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
from telegram import Bot, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from backend.services.context import OutboxSignal
from backend.storage import outbox as outbox_store
from backend.storage.database import Database
from backend.storage.outbox import OutboxRow
from bot.render import Renderer, UnknownMessage

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


class OutboxSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        renderer: Renderer,
        signal: OutboxSignal,
        *,
        batch: int = 50,
        lease: timedelta = timedelta(seconds=60),
        poll_seconds: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.db = db
        self.bot = bot
        self.renderer = renderer
        self.signal = signal
        self.batch = batch
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.sleep = sleep  # injectable, so tests see a 429 pause without waiting it out
        self.worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.sent = 0
        self.failed = 0

    async def run(self) -> None:
        """Send until cancelled."""
        while True:
            try:
                delivered = await self.send_due()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("sender cannot reach the database: %s", type(error).__name__)
                delivered = 0
            if not delivered:
                await self.signal.wait(self.poll_seconds)

    async def send_due(self) -> int:
        """Claim one batch and deliver it in order; return how many rows were handled."""
        rows = await self.db.transaction(
            outbox_store.claim_due, self.worker, self.batch, self.lease
        )
        for row in rows:
            pause = await self.deliver(row)
            if pause:
                await self._release_rest(rows[rows.index(row) + 1 :], pause)
                await self.sleep(pause)
                break
        return len(rows)

    async def deliver(self, row: OutboxRow) -> float:
        """Send one message; return seconds to pause all sending (after a 429), else 0."""
        try:
            call = self.renderer.render(row)
            result = await self._call(call.method, call.params)
        except RetryAfter as error:
            pause = _pause_of(error)
            log.warning("Telegram asks to pause %.0f s (429)", pause)
            await self._retry(row, pause, "429 Too Many Requests")
            return pause
        except BadRequest as error:
            if "message is not modified" in error.message.lower():
                await self._sent(row, None)
            else:
                await self._fail(row, f"400 {error.message}")
            return 0
        except (Forbidden, ChatMigrated) as error:
            await self._fail(row, f"{type(error).__name__}: {error.message}")
            return 0
        except UnknownMessage as error:
            await self._fail(row, str(error))
            return 0
        except TelegramError as error:  # NetworkError, TimedOut, 5xx
            await self._backoff(row, f"{type(error).__name__}: {error.message}")
            return 0
        message_id = result.message_id if isinstance(result, Message) else None
        await self._sent(row, message_id)
        return 0

    async def _call(self, method: str, params: dict) -> object:
        if method == "sendMessage":
            return await self.bot.send_message(**params)
        if method == "editMessageText":
            return await self.bot.edit_message_text(**params)
        if method == "answerCallbackQuery":
            return await self.bot.answer_callback_query(**params)
        raise UnknownMessage(f"no sender for Bot API method {method}")

    async def _sent(self, row: OutboxRow, message_id: int | None) -> None:
        self.sent += 1
        await self.db.transaction(outbox_store.mark_sent, row, message_id)

    async def _fail(self, row: OutboxRow, reason: str) -> None:
        self.failed += 1
        log.warning("outbox message %s (%s) failed: %s", row.id, row.kind, reason)
        await self.db.transaction(outbox_store.mark_failed, row, reason)

    async def _retry(self, row: OutboxRow, delay: float, reason: str) -> None:
        await self.db.transaction(outbox_store.retry_later, row, timedelta(seconds=delay), reason)

    async def _backoff(self, row: OutboxRow, reason: str) -> None:
        if row.attempts >= MAX_ATTEMPTS:
            await self._fail(row, f"gave up after {row.attempts} attempts: {reason}")
            return
        log.info("outbox message %s will be retried: %s", row.id, reason)
        await self._retry(row, min(300.0, 2.0**row.attempts), reason)

    async def _release_rest(self, rows: list[OutboxRow], pause: float) -> None:
        """Give back the rest of the batch so nothing waits for this lease to expire."""
        for row in rows:
            await self._retry(row, pause, "paused after 429")


def _pause_of(error: RetryAfter) -> float:
    """``retry_after`` in seconds, whichever type PTB gives (PTB_TIMEDELTA set or not)."""
    with warnings.catch_warnings():
        # PTB 22 warns when the value is read as a number; either form is fine here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
