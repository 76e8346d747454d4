"""The outbox sender: claims due messages, sends them within Telegram's limits, records results.

Only one sender talks to Telegram at a time (a lease in the database), so the flood limits
are one budget however many instances run; another instance takes over when the lease runs
out. The sender claims small batches in priority order (alerts, replies, prompts, broadcasts),
so a long broadcast never holds an alert back for more than a fraction of a second, and it
sends one chain per chat concurrently, each chat's messages in order.

Telegram's answers decide what happens to a message:
- accepted, or an edit that changes nothing: sent;
- 429 RetryAfter: everything pauses for ``retry_after`` (the limit is per bot), then resumes;
  the pause is stored with the leases, so an instance taking over sending honours it too;
- 403 Forbidden: the person blocked the bot; the chat is marked unreachable and nothing more
  is sent to it;
- a group migrated to a supergroup: the new chat id is stored and the message resent;
- 400 Bad Request: failed for good, with Telegram's reason;
- network errors, timeouts, 5xx, and answers the library cannot make sense of: retried with
  exponential backoff (at most five minutes apart); an authority alert is never given up,
  anything else after about a day;
- best-effort calls (answering a button press, clearing an old keyboard): any error but a 429
  fails them at once; they are useless later and must not hold the chat's messages back.

Delivery is at least once: results are written per batch, so a crash re-sends at most one
batch.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from telegram import Bot, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from backend import metrics
from backend.domain.messages import Kind, Priority
from backend.logs import describe_error
from backend.services.context import OutboxSignal
from backend.storage import cases as case_store
from backend.storage import leases
from backend.storage import outbox as outbox_store
from backend.storage.database import UNAVAILABLE, Database
from backend.storage.outbox import BatchResult, OutboxRow
from bot.pacing import Pacer
from bot.render import BotCall, Renderer, UnknownMessage

log = logging.getLogger(__name__)

# Network errors and 5xx: with backoff capped at five minutes, 300 attempts are about a day of
# Telegram (or our network) being unreachable. Alerts to authorities are never given up.
MAX_ATTEMPTS = 300
LEASE_NAME = "sender"
PAUSE_NAME = "telegram-429"  # a hold-off in the leases table while Telegram asks us to wait
INLINE_WAIT = 1.5  # wait this long for a chat's turn within a batch; defer longer waits
# Concurrent Bot API requests; the HTTP connection pool is sized to match. Measured on this
# machine: 8 to 64 give about the same throughput with aiohttp, so latency decides.
IN_FLIGHT = 64
DB_ERRORS = (*UNAVAILABLE, asyncpg.PostgresError)
RECORD_ATTEMPTS = 20  # about a minute and a half of database downtime
# Calls worth making only now: a button press must be answered within about 15 s, and a stale
# keyboard left in place does no harm. Any error but a 429 fails them at once, so they never
# hold back the chat's later messages.
BEST_EFFORT = frozenset({Kind.ANSWER_CALLBACK, Kind.CLEAR_BUTTONS})


class OutboxSender:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        renderer: Renderer,
        signal: OutboxSignal,
        *,
        rate: float = 30.0,
        paid_broadcast: bool = False,
        batch: int | None = None,
        claim_lease: timedelta = timedelta(seconds=60),
        leader_ttl: timedelta = timedelta(seconds=15),
        poll_seconds: float = 2.0,
        backoff: Callable[[int], float] = lambda attempts: min(300.0, 2.0**attempts),
    ):
        self.db = db
        self.bot = bot
        self.renderer = renderer
        self.signal = signal
        self.pacer = Pacer(rate)
        self.paid_broadcast = paid_broadcast
        # About a quarter second of sending per batch: small enough that an alert committed
        # meanwhile goes out in the next batch, large enough to keep database round trips few.
        self.batch = batch or max(1, int(rate / 4))
        self.claim_lease = claim_lease
        self.leader_ttl = leader_ttl
        self.poll_seconds = poll_seconds
        self.backoff = backoff  # seconds before retrying after a 5xx or network error
        self._stopping = asyncio.Event()
        self._idle = asyncio.Condition()
        self._idle_rounds = 0  # times the sender found nothing due
        self.worker = leases.holder_name()
        self.leading = False
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self.counts: defaultdict[str, int] = defaultdict(int)  # sent, failed, 429, ...

    async def run(self) -> None:
        """Send until stopped; wait as a standby while another instance holds the lease."""
        try:
            while not self._stopping.is_set():
                try:
                    if not await self.lead():
                        await self._rest(self._renew_every)
                        continue
                    if self.pacer.paused_for:
                        # Rest in slices, renewing the lease, so a standby does not take over
                        # and send during the pause.
                        await self._rest(min(self.pacer.paused_for, self._renew_every))
                        continue
                    handled = await self.send_due()
                except DB_ERRORS as error:
                    log.warning("sender cannot reach the database: %s", type(error).__name__)
                    await self._rest(1.0)
                    continue
                except Exception:
                    # A bug must not silence the service for good: log it and carry on.
                    log.exception("sender error; continuing")
                    await self._rest(5.0)
                    continue
                if not handled:
                    async with self._idle:
                        self._idle_rounds += 1
                        self._idle.notify_all()
                    await self._rest(self.poll_seconds)
        finally:
            await self.resign()

    async def drained(self) -> None:
        """Return once the sender has recorded everything that was due when called (tests,
        and anyone who wants to know that a burst has gone out)."""
        async with self._idle:
            target = self._idle_rounds + 1
            self.signal.notify()
            await self._idle.wait_for(lambda: self._idle_rounds >= target)

    def stop(self) -> None:
        """Finish the batch in hand, record it, give up the lease and return from ``run``."""
        self._stopping.set()
        self.signal.notify()

    @property
    def _renew_every(self) -> float:
        return self.leader_ttl.total_seconds() / 3

    async def _rest(self, seconds: float) -> None:
        """Wait until new messages are signalled, ``seconds`` pass, or we are stopped."""
        if not self._stopping.is_set():
            await self.signal.wait(seconds)

    async def lead(self) -> bool:
        """Take or renew the sender lease. On taking over, free the claims of a sender that
        died, so its batch goes out now rather than when its claims expire."""
        was_leading = self.leading
        self.leading = await self.db.transaction(
            leases.acquire, LEASE_NAME, self.worker, self.leader_ttl
        )
        if self.leading and not was_leading:
            freed = await self.db.transaction(outbox_store.release_foreign_claims, self.worker)
            log.info("this instance sends now (%d claimed messages taken over)", freed)
            paused = await self.db.transaction(leases.seconds_left, PAUSE_NAME)
            if paused:
                log.warning("Telegram's 429 pause runs %.0f s more; waiting it out", paused)
                self.pacer.pause(paused)
        elif was_leading and not self.leading:
            log.warning("another instance took over sending")
        return self.leading

    async def resign(self) -> None:
        if self.leading:
            self.leading = False
            try:
                await asyncio.shield(self.db.transaction(leases.release, LEASE_NAME, self.worker))
            except (*DB_ERRORS, asyncio.CancelledError):
                pass  # the lease simply expires

    async def send_due(self) -> int:
        """Claim one batch, send it, record the results; return how many rows it had."""
        rows = await self.db.transaction(
            outbox_store.claim_due, self.worker, self.batch, self.claim_lease
        )
        if not rows:
            return 0
        chains: dict[int, list[OutboxRow]] = defaultdict(list)
        for row in rows:  # claim order: most urgent first, then oldest
            chains[row.chat_id].append(row)
        result = BatchResult()
        blocked: set[int] = set()
        migrated: dict[int, int] = {}
        await asyncio.gather(
            *(self._chain(chain, result, blocked, migrated) for chain in chains.values())
        )
        await self._record_results(result, blocked, migrated, self.pacer.paused_for)
        return len(rows)

    async def _record_results(
        self, result: BatchResult, blocked: set[int], migrated: dict[int, int], paused: float
    ) -> None:
        """Write the batch's results, waiting out a database restart: these messages are
        already with Telegram, and results lost here would send them a second time."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self.db.transaction(self._record, result, blocked, migrated, paused)
                return
            except DB_ERRORS as error:
                log.warning("cannot record a sent batch yet (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        log.error("gave up recording a sent batch; its messages will be sent again")

    @staticmethod
    async def _record(
        conn: asyncpg.Connection,
        result: BatchResult,
        blocked: set[int],
        migrated: dict[int, int],
        paused: float,
    ) -> None:
        await outbox_store.finish_batch(conn, result)
        if paused:
            await leases.hold_off(conn, PAUSE_NAME, paused)
        for chat_id in blocked:
            await case_store.mark_unreachable(conn, chat_id)
            await outbox_store.fail_chat(conn, chat_id, "blocked")
        for old, new in migrated.items():
            await outbox_store.move_chat(conn, old, new)

    async def _chain(
        self,
        rows: list[OutboxRow],
        result: BatchResult,
        blocked: set[int],
        migrated: dict[int, int],
    ) -> None:
        """Send one chat's rows in order; stop at the first that cannot go now."""
        for position, row in enumerate(rows):
            try:
                call = self.renderer.render(row)
            except (UnknownMessage, KeyError, ValueError, TypeError) as error:
                self._fail(result, row, "unknown", f"cannot render: {error}")
                continue
            delay = self.pacer.chat_delay(row.chat_id, call.method)
            if delay > INLINE_WAIT or self.pacer.paused_for:
                wait = max(delay, self.pacer.paused_for)
                self._defer(result, rows[position:], wait, "waiting for the chat's turn")
                return
            if delay:
                await asyncio.sleep(delay)  # real pacing, never faked
            outcome = await self._send(row, call, result)
            if outcome.blocked:
                blocked.add(row.chat_id)
                for rest in rows[position + 1 :]:
                    self._fail(result, rest, "blocked", "Forbidden: bot was blocked by the user")
                return
            if outcome.migrated_to is not None:  # resend to the new chat id at once
                migrated[row.chat_id] = outcome.migrated_to
                self._defer(result, rows[position:], 0.0, "group migrated")
                return
            if outcome.wait is not None:  # this row waits: the rest of the chat waits behind it
                self._defer(result, rows[position + 1 :], outcome.wait, "after an earlier message")
                return

    async def _send(self, row: OutboxRow, call: BotCall, result: BatchResult) -> _Next:
        """One Bot API call: record its result and say how the chain goes on.

        The connection slot is taken before the rate slot: a turn granted while waiting for a
        free connection would go out late, in a burst with others, perhaps after a 429.
        """
        async with self._in_flight:
            if not await self.pacer.turn(row.chat_id, call.method):
                self._defer(result, [row], self.pacer.paused_for, "paused after 429")
                return _Next(wait=self.pacer.paused_for)
            return await self._attempt(row, call, result)

    async def _attempt(self, row: OutboxRow, call: BotCall, result: BatchResult) -> _Next:
        try:
            answer = await self._call(call)
        except RetryAfter as error:
            pause = retry_after_seconds(error)
            self.counts["429"] += 1
            metrics.RATE_LIMITED.inc()
            log.warning("Telegram asks to pause %.0f s (429)", pause)
            self.pacer.pause(pause)
            self._defer(result, [row], pause, "429 Too Many Requests")
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
            self._defer(result, [row], delay, reason, refund=False)
            return _Next(wait=delay)
        self.counts["sent"] += 1
        metrics.MESSAGES_SENT.labels(row.kind).inc()
        result.sent.append((row, answer.message_id if isinstance(answer, Message) else None))
        return _Next()

    async def _call(self, call: BotCall) -> object:
        params = dict(call.params)
        if call.method == "sendMessage":
            if self.paid_broadcast:
                params["allow_paid_broadcast"] = True
            return await self.bot.send_message(**params)
        if call.method == "editMessageText":
            return await self.bot.edit_message_text(**params)
        if call.method == "editMessageReplyMarkup":
            return await self.bot.edit_message_reply_markup(**params)
        if call.method == "answerCallbackQuery":
            return await self.bot.answer_callback_query(**params)
        raise UnknownMessage(f"no sender for Bot API method {call.method}")

    def _fail(self, result: BatchResult, row: OutboxRow, failure: str, reason: str) -> None:
        self.counts["failed"] += 1
        self.counts[f"failed_{failure}"] += 1
        metrics.MESSAGES_FAILED.labels(row.kind, failure).inc()
        log.warning("outbox message %s (%s) failed: %s", row.id, row.kind, failure)
        result.failed.append((row, failure, reason))

    @staticmethod
    def _defer(
        result: BatchResult, rows: list[OutboxRow], delay: float, reason: str, refund: bool = True
    ) -> None:
        for row in rows:
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
