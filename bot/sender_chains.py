"""Sending one claimed batch: one chain per chat, concurrently, each chat's messages in order.

The part of the outbox sender (bot/sender.py) that talks to Telegram: it renders each row,
waits for its turn (bot/pacing.py), makes the call and sorts the answer into a batch result
for the sender to record. Telegram's answers decide what happens to a message (see
bot/sender.py's docstring for the list).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from backend import metrics
from backend.domain.messages import Kind, Priority
from backend.logs import describe_error
from backend.storage.outbox import BatchResult, OutboxRow
from bot import bot_calls
from bot.pacing import Pacer
from bot.render import BotCall, Renderer, UnknownMessage

log = logging.getLogger(__name__)

# Network errors and 5xx: with backoff capped at five minutes, 300 attempts are about a day of
# Telegram (or our network) being unreachable. Alerts to authorities are never given up.
MAX_ATTEMPTS = 300
INLINE_WAIT = 1.5  # wait this long for a chat's turn within a batch; defer longer waits
# Calls worth making only now: a button press must be answered within about 15 s, and a stale
# keyboard left in place does no harm. Any error but a 429 fails them at once, so they never
# hold back the chat's later messages.
BEST_EFFORT = frozenset({Kind.ANSWER_CALLBACK, Kind.CLEAR_BUTTONS})


@dataclass
class BatchOutcome:
    """A sent batch: what to record, and the chats whose chains stopped."""

    result: BatchResult = field(default_factory=BatchResult)
    blocked: set[int] = field(default_factory=set)  # 403: unreachable from now on
    migrated: dict[int, int] = field(default_factory=dict)  # old chat id -> new chat id
    # Chats whose chain stopped with a deferral, and for how long: the next batch, claimed
    # while this one was on its way, may hold later messages to them, which must wait too.
    held: dict[int, float] = field(default_factory=dict)


class ChainSending:
    """Sends batches. The sender (bot/sender.py) sets these attributes; a test may swap the
    pacer between batches."""

    bot: Bot
    renderer: Renderer
    pacer: Pacer
    paid_broadcast: bool
    backoff: Callable[[int], float]
    counts: defaultdict[str, int]
    _in_flight: asyncio.Semaphore

    async def _send_batch(self, rows: list[OutboxRow], after: BatchOutcome | None) -> BatchOutcome:
        """Send ``rows`` (in claim order: most urgent first, then oldest). ``after``: the
        outcome of the batch sent just before, whose stopped chats stay stopped."""
        chains: dict[int, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            chains[row.chat_id].append(row)
        outcome = BatchOutcome()
        if after is not None:
            for chat_id in list(chains):
                if chat_id in after.blocked:
                    for row in chains.pop(chat_id):
                        self._fail(outcome.result, row, "blocked", "Forbidden: bot was blocked")
                elif chat_id in after.migrated or chat_id in after.held:
                    wait = after.held.get(chat_id, 0.0)
                    self._defer(outcome, chains.pop(chat_id), wait, "after an earlier message")
        await asyncio.gather(*(self._chain(chain, outcome) for chain in chains.values()))
        return outcome

    async def _chain(self, rows: list[OutboxRow], outcome: BatchOutcome) -> None:
        """Send one chat's rows in order; stop at the first that cannot go now."""
        result = outcome.result
        for position, row in enumerate(rows):
            try:
                call = self.renderer.render(row)
            except (UnknownMessage, KeyError, ValueError, TypeError) as error:
                self._fail(result, row, "unknown", f"cannot render: {error}")
                continue
            delay = self.pacer.chat_delay(row.chat_id, call.method)
            if delay > INLINE_WAIT or self.pacer.paused_for:
                wait = max(delay, self.pacer.paused_for)
                outcome.held[row.chat_id] = wait
                self._defer(outcome, rows[position:], wait, "waiting for the chat's turn")
                return
            if delay:
                await asyncio.sleep(delay)  # real pacing, never faked
            outcome_of_call = await self._send(row, call, result)
            if outcome_of_call.blocked:
                outcome.blocked.add(row.chat_id)
                for rest in rows[position + 1 :]:
                    self._fail(result, rest, "blocked", "Forbidden: bot was blocked by the user")
                return
            if outcome_of_call.migrated_to is not None:  # resend to the new chat id at once
                outcome.migrated[row.chat_id] = outcome_of_call.migrated_to
                self._defer(outcome, rows[position:], 0.0, "group migrated")
                return
            if outcome_of_call.wait is not None:  # the rest of the chat waits behind this row
                wait = outcome_of_call.wait
                outcome.held[row.chat_id] = max(wait, outcome.held.get(row.chat_id, 0.0))
                self._defer(outcome, rows[position + 1 :], wait, "after an earlier message")
                return

    async def _send(self, row: OutboxRow, call: BotCall, result: BatchResult) -> _Next:
        """One Bot API call: record its result and say how the chain goes on.

        The connection slot is taken before the rate slot: a turn granted while waiting for a
        free connection would go out late, in a burst with others, perhaps after a 429.
        """
        async with self._in_flight:
            turn = await self.pacer.turn(row.chat_id, call.method)
            if turn is None:
                self._defer_row(result, row, self.pacer.paused_for, "paused after 429")
                return _Next(wait=self.pacer.paused_for)
            try:
                return await self._attempt(row, call, result)
            finally:
                turn.answered()

    async def _attempt(self, row: OutboxRow, call: BotCall, result: BatchResult) -> _Next:
        try:
            answer = await self._call(call)
        except RetryAfter as error:
            pause = retry_after_seconds(error)
            self.counts["429"] += 1
            metrics.RATE_LIMITED.inc()
            log.warning("Telegram asks to pause %.0f s (429)", pause)
            self.pacer.pause(pause)
            self._defer_row(result, row, pause, "429 Too Many Requests")
            return _Next(wait=pause)
        except Forbidden as error:
            self._fail(result, row, "blocked", f"Forbidden: {error.message}")
            return _Next(blocked=True)
        except ChatMigrated as error:
            log.info("a group migrated to a supergroup; resending there")
            return _Next(migrated_to=error.new_chat_id)
        except BadRequest as error:
            if "message is not modified" in error.message.lower():
                result.sent.append((row, None))
            else:
                self._fail(result, row, "bad_request", f"400 {error.message}")
            return _Next()
        except UnknownMessage as error:
            self._fail(result, row, "unknown", str(error))
            return _Next()
        except Exception as error:  # noqa: BLE001 - see below
            # NetworkError, TimedOut, 5xx; or anything else the library raised for this one
            # answer (a KeyError on an HTTP 200 {"ok": false}, say): the message's failure,
            # never the batch's, or nothing of the batch would be recorded and all of it sent
            # again.
            reason = describe_error(error, self.bot.token)
            if row.kind in BEST_EFFORT:
                self._fail(result, row, "best_effort", reason)
                return _Next()
            if row.attempts >= MAX_ATTEMPTS and row.priority != Priority.ALERT:
                self._fail(result, row, "gave_up", f"after {row.attempts} attempts: {reason}")
                return _Next()
            delay = self.backoff(row.attempts)
            self._defer_row(result, row, delay, reason, refund=False)
            return _Next(wait=delay)
        self.counts["sent"] += 1
        metrics.MESSAGES_SENT.labels(row.kind).inc()
        result.sent.append((row, bot_calls.message_id(answer)))
        return _Next()

    async def _call(self, call: BotCall) -> Any:
        params = call.params
        if call.method == "sendMessage" and self.paid_broadcast:
            params = {**params, "allow_paid_broadcast": True}
        return await bot_calls.call(self.bot, call.method, params)

    def _fail(self, result: BatchResult, row: OutboxRow, failure: str, reason: str) -> None:
        self.counts["failed"] += 1
        self.counts[f"failed_{failure}"] += 1
        metrics.MESSAGES_FAILED.labels(row.kind, failure).inc()
        log.warning("outbox message %s (%s) failed: %s", row.id, row.kind, failure)
        result.failed.append((row, failure, reason))

    @staticmethod
    def _defer(outcome: BatchOutcome, rows: list[OutboxRow], delay: float, reason: str) -> None:
        for row in rows:
            outcome.result.later.append((row, delay, reason, True))

    @staticmethod
    def _defer_row(
        result: BatchResult, row: OutboxRow, delay: float, reason: str, refund: bool = True
    ) -> None:
        result.later.append((row, delay, reason, refund))


@dataclass(frozen=True)
class _Next:
    """How a chat's chain goes on after one call: on (all None/False), or not."""

    wait: float | None = None  # the row was deferred this long
    blocked: bool = False  # 403: the chat is unreachable
    migrated_to: int | None = None  # the group's new chat id


def retry_after_seconds(error: RetryAfter) -> float:
    """``retry_after`` in seconds, whichever type PTB gives (PTB_TIMEDELTA set or not)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
