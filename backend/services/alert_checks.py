"""The alert rules, applied to new diary entries by one checker rather than by each answer.

An answer's transaction stores the entry and, when the entry can raise an alert or end a
non-reporting one, queues it (``queue_if_needed``): both commit together, so no entry escapes
the rules. The checker (``AlertChecker``, one at a time by a lease, beside the sender) takes
the queue oldest first, raises, posts and resolves alerts, and deletes what it checked, in one
transaction per batch, so no entry is checked twice.

Why not in the answer's transaction, as before: the rules read the case's alerts and diary
and write alerts; done by hundreds of answers at once under SERIALIZABLE, they conflicted with
each other on the alerts' index pages, and a quarter of the morning's answers had to be run
again (issue 18). The checker does the same work one batch at a time; the person's own reply,
the emergency advice after a red-flag symptom included, is still decided in the answer's
transaction, so nothing the person sees waits for it. What the authority sees waits for the
next batch: within a transaction's time when the answer came to this process (it wakes the
checker), within ``poll_seconds`` when it came to another instance.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from uuid import UUID

import asyncpg

from backend import metrics
from backend.domain.cases import Case
from backend.domain.questionnaire import Answer
from backend.domain.regions import Region
from backend.domain.rules import Reading, may_raise
from backend.logs import where_it_failed
from backend.services import escalations
from backend.services.context import ServiceContext
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import entry_checks as store
from backend.storage.database import RETRYABLE, UNAVAILABLE, WORK
from backend.storage.leases import Lease

log = logging.getLogger(__name__)

BATCH = 50  # entries per transaction
MAX_ATTEMPTS = 5  # failed checks of one entry before it is given up (logged, counted)
LEASE_NAME = "alert-checks"


async def queue_if_needed(
    conn: asyncpg.Connection,
    region: Region,
    case: Case,
    entry_id: UUID,
    local_date: date,
    answer: Answer,
) -> bool:
    """In the answer's transaction: queue the entry if it can raise an alert, or end the
    non-reporting alert the case may have. True if queued."""
    reading = Reading(
        local_date, answer.feeling_well, answer.symptoms, answer.temperature_c, answer.trend
    )
    if not case.silence_alerted and not may_raise(region.rules, case.kind, reading):
        return False
    await store.queue(conn, case.region, entry_id)
    # The line that ties an update (its id is in the log context) to the alerts that follow.
    log.info("entry %s in %s queued for the alert rules", entry_id, case.region)
    return True


async def check_queued(ctx: ServiceContext, limit: int = BATCH) -> int:
    """Check up to ``limit`` queued entries in one transaction; return how many were taken.

    An entry whose check fails for a reason a retry does not mend (a bug) would fail its
    whole batch again and again: then each is checked on its own, and one that keeps failing
    is given up after ``MAX_ATTEMPTS`` (logged by id, counted)."""

    async def batch(conn: asyncpg.Connection) -> int:
        queued = await store.oldest(conn, limit)
        for region, entry_id, _ in queued:
            await _check(ctx, conn, region, entry_id)
        await store.done(conn, [entry_id for _, entry_id, _ in queued])
        return len(queued)

    try:
        checked = await ctx.db.transaction(batch)
    except (*RETRYABLE, *UNAVAILABLE):
        raise
    except Exception as error:  # noqa: BLE001 - find the entry that fails, let the rest pass
        log.warning("a batch of alert checks failed (%s); one at a time", type(error).__name__)
        return await _one_at_a_time(ctx, limit)
    metrics.ALERT_CHECKS.inc(checked)
    return checked


async def _check(
    ctx: ServiceContext, conn: asyncpg.Connection, region: str, entry_id: UUID
) -> None:
    entry = await entry_store.get(conn, region, entry_id)
    case = entry and await case_store.get_case(conn, [region], entry.case_id)
    if entry is None or case is None or ctx.regions.get(region) is None:
        # Purged, moved to another region, or the region removed since: nothing to alert.
        log.info("queued entry %s is gone; not checked", entry_id)
        return
    answer = Answer(
        feeling_well=entry.feeling_well,
        symptoms=entry.symptoms,
        temperature_c=entry.temperature_c,
        trend=entry.trend,
        note=entry.note,
    )
    await escalations.on_entry(ctx, conn, case, entry.id, entry.local_date, answer)


async def _one_at_a_time(ctx: ServiceContext, limit: int) -> int:
    queued = await ctx.db.transaction(store.oldest, limit)
    for region, entry_id, _ in queued:

        async def single(conn: asyncpg.Connection, region=region, entry_id=entry_id) -> None:
            # Taken off first: another checker (after a lease handover) may have done it.
            if await store.take(conn, entry_id):
                await _check(ctx, conn, region, entry_id)

        try:
            await ctx.db.transaction(single)
            metrics.ALERT_CHECKS.inc()
        except (*RETRYABLE, *UNAVAILABLE):
            raise
        except Exception as error:  # noqa: BLE001 - count it, and give it up in the end
            attempts = await ctx.db.transaction(store.failed, entry_id)
            log.error(
                "alert check of entry %s failed, attempt %d of %d: %s",
                entry_id,
                attempts,
                MAX_ATTEMPTS,
                where_it_failed(error),
            )
            if attempts >= MAX_ATTEMPTS:
                # Kept, marked, for an operator: the alert it might have raised is not.
                await ctx.db.transaction(store.give_up, entry_id)
                metrics.ALERT_CHECKS_GIVEN_UP.inc()
    return len(queued)


class AlertChecker:
    """Checks queued entries while this instance holds the checker lease; woken at once by
    answers of this process (``ctx.checks``), and every ``poll_seconds`` for the others'."""

    def __init__(
        self, ctx: ServiceContext, *, poll_seconds: float = 0.5, lease_seconds: float = 20.0
    ):
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self.lease = Lease(ctx.db, LEASE_NAME, timedelta(seconds=lease_seconds))
        self._stopping = asyncio.Event()
        self._renewed_at = float("-inf")

    async def run(self) -> None:
        WORK.set("alert-checks")  # this task's own context: the retries metric's label
        loop = asyncio.get_running_loop()
        try:
            while not self._stopping.is_set():
                try:
                    if loop.time() - self._renewed_at >= self.lease.ttl.total_seconds() / 3:
                        await self.lease.hold()
                        self._renewed_at = loop.time()
                    if not self.lease.held:
                        await self.ctx.checks.wait(self.lease.ttl.total_seconds() / 3)
                        continue
                    if await check_queued(self.ctx) >= BATCH:
                        continue  # more are waiting
                except RETRYABLE as error:
                    log.warning(
                        "alert checks conflicted with other work (%s); again",
                        type(error).__name__,
                    )
                    continue
                except (*UNAVAILABLE, asyncpg.PostgresError) as error:
                    log.warning("alert checks: database unavailable (%s)", type(error).__name__)
                    await asyncio.sleep(1.0)  # a backoff while the database is away
                    continue
                await self.ctx.checks.wait(self.poll_seconds)
        finally:
            try:
                await asyncio.shield(self.lease.release())
            except (*UNAVAILABLE, asyncpg.PostgresError, asyncio.CancelledError):
                pass  # the lease simply expires

    def stop(self) -> None:
        self._stopping.set()
        self.ctx.checks.notify()
