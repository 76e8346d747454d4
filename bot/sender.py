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

Batches flow one after the other: the next batch is claimed while this one is on its way
(three quarters into it, so that an alert committed meanwhile still makes the next batch), so
the claim's database round trip is hidden behind the sending, and the lease is renewed every
few seconds rather than per batch. Delivery is at least once: a batch's results are recorded
(one transaction, whatever its size) before the next batch's first message goes out, so a
crash re-sends at most one batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

import asyncpg
from telegram import Bot

from backend.services.context import Signal
from backend.storage import cases as case_store
from backend.storage import leases
from backend.storage import outbox as outbox_store
from backend.storage.database import RETRYABLE, UNAVAILABLE, WORK, Database
from backend.storage.outbox import BatchResult, OutboxRow
from bot.pacing import Pacer
from bot.render import Renderer
from bot.sender_chains import (  # noqa: F401 - MAX_ATTEMPTS and retry_after_seconds re-exported
    MAX_ATTEMPTS,
    BatchOutcome,
    ChainSending,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

LEASE_NAME = "sender"
PAUSE_NAME = "telegram-429"  # a hold-off in the leases table while Telegram asks us to wait
# Concurrent Bot API requests; the HTTP connection pool is sized to match. Measured on this
# machine: 8 to 64 give about the same throughput with aiohttp, so latency decides.
IN_FLIGHT = 64
DB_ERRORS = (*UNAVAILABLE, asyncpg.PostgresError)
RECORD_ATTEMPTS = 20  # about a minute and a half of database downtime
PREFETCH_AT = 0.75  # of a batch's sending time, when the next batch is claimed


class OutboxSender(ChainSending):
    def __init__(
        self,
        db: Database,
        bot: Bot,
        renderer: Renderer,
        signal: Signal,
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
        self._led_at = 0.0  # loop time of the last lease renewal
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        self.counts: defaultdict[str, int] = defaultdict(int)  # sent, failed, 429, ...

    async def run(self) -> None:
        """Send until stopped; wait as a standby while another instance holds the lease."""
        WORK.set("sender")  # this task's own context: the retries metric's label
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
                    handled = await self.send_stream()
                except RETRYABLE as error:
                    # Contention, not an outage: a transaction of ours kept conflicting with
                    # others (each retried already). Nothing is wrong with the database, so
                    # go on at once rather than stall every message for a second.
                    log.warning(
                        "sender: a transaction conflicted with concurrent work %d times "
                        "(%s); going on",
                        self.db.retry.attempts,
                        type(error).__name__,
                    )
                    continue
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
        self._led_at = asyncio.get_running_loop().time()
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
        rows = await self._claim()
        if rows:
            await self._send_and_record(rows, None)
        return len(rows)

    async def send_stream(self) -> int:
        """Send batch after batch while full batches are due; return the rows handled.

        The next batch is claimed while this one is on its way. It is sent only once this
        one's results are recorded, so at most one batch is ever sent but not recorded. It is
        handed back unsent if sending must stop meanwhile (stopped, paused by a 429, the lease
        lost).
        """
        handled = 0
        previous: BatchOutcome | None = None
        rows = await self._claim()
        while rows:
            more = len(rows) >= self.batch and not self._stopping.is_set()
            ahead = asyncio.create_task(self._claim(after=self._lead_time(rows))) if more else None
            try:
                previous = await self._send_and_record(rows, previous)
            except BaseException:
                if ahead is not None:
                    ahead.cancel()  # a claim that committed all the same just expires
                raise
            handled += len(rows)
            rows = await ahead if ahead is not None else []
            if rows and not await self._may_go_on():
                await self._hand_back(rows)
                break
        return handled

    async def _claim(self, after: float = 0.0) -> list[OutboxRow]:
        if after:
            await asyncio.sleep(after)
        return await self.db.transaction(
            outbox_store.claim_due, self.worker, self.batch, self.claim_lease
        )

    def _lead_time(self, rows: list[OutboxRow]) -> float:
        """When to claim the batch after ``rows``: three quarters into their sending at the
        paced rate. Late enough that an alert committed meanwhile is in it (claimed at once,
        the next batch would be fixed a whole batch ahead of the alert), early enough that the
        claim is back before these rows are all out. At once when the rate is unlimited."""
        return PREFETCH_AT * len(rows) / self.pacer.rate

    async def _may_go_on(self) -> bool:
        """Between two batches of a stream: not stopped, not paused, still the sender (the
        lease renewed when due)."""
        if self._stopping.is_set() or self.pacer.paused_for:
            return False
        if asyncio.get_running_loop().time() - self._led_at >= self._renew_every:
            return await self.lead()
        return self.leading

    async def _hand_back(self, rows: list[OutboxRow]) -> None:
        """Release claimed rows that were not sent: due again at once, the attempt refunded."""
        result = BatchResult(later=[(row, 0.0, "handed back unsent", True) for row in rows])
        await self._record_results(BatchOutcome(result=result), 0.0)

    async def _send_and_record(
        self, rows: list[OutboxRow], after: BatchOutcome | None
    ) -> BatchOutcome:
        outcome = await self._send_batch(rows, after)
        await self._record_results(outcome, self.pacer.paused_for)
        return outcome

    async def _record_results(self, outcome: BatchOutcome, paused: float) -> None:
        """Write the batch's results, waiting out a database restart: these messages are
        already with Telegram, and results lost here would send them a second time."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self.db.transaction(self._record, outcome, paused)
                return
            except RETRYABLE as error:
                log.warning("recording a sent batch conflicted (%s); again", type(error).__name__)
            except DB_ERRORS as error:
                log.warning("cannot record a sent batch yet (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        log.error("gave up recording a sent batch; its messages will be sent again")

    @staticmethod
    async def _record(conn: asyncpg.Connection, outcome: BatchOutcome, paused: float) -> None:
        await outbox_store.finish_batch(conn, outcome.result)
        if paused:
            await leases.hold_off(conn, PAUSE_NAME, paused)
        for chat_id in outcome.blocked:
            await case_store.mark_unreachable(conn, chat_id)
            await outbox_store.fail_chat(conn, chat_id, "blocked")
        for old, new in outcome.migrated.items():
            await outbox_store.move_chat(conn, old, new)
