"""Connection pool, engine detection and the one transaction helper.

Every unit of work runs through :meth:`Database.transaction`: an explicit SERIALIZABLE
transaction (a bare ``transaction()`` would be READ COMMITTED on PostgreSQL but SERIALIZABLE on
CockroachDB), retried on serialization failures (40001) and deadlocks (40P01) with jittered
exponential backoff. The function passed in is re-run from the start on each attempt, so it must
have no side effects outside the database: callers act on the result only after it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

import asyncpg

from backend.metrics import TRANSACTION_RETRIES

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

RETRYABLE = (asyncpg.SerializationError, asyncpg.DeadlockDetectedError)
# The database is restarting, shutting down or out of reach, or the connection broke. Not
# retried inside a transaction (a COMMIT cut off may have happened); callers wait and start
# their unit of work again.
UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    # A connection to a primary that a failover demoted to a standby: the write did not
    # happen. The connection is thrown away; a new one goes to the new primary (a multi-host
    # URL with target_session_attrs=read-write).
    asyncpg.ReadOnlySQLTransactionError,
)


# What the transactions of the current task are for, in the retries metric: set once by the
# task that does that work (bot.ingest: "update"; the sender: "sender"), inherited by what it
# starts, "other" for the rest.
WORK: ContextVar[str] = ContextVar("work", default="other")


class DatabaseUnreachable(RuntimeError):
    """The database could not be connected to; the message says why, never the URL."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base_delay: float = 0.01
    max_delay: float = 1.0
    # How long a unit of work that is idempotent by key waits for the database to come back
    # (a failover of a Patroni cluster takes ttl + a few seconds; see deploy/ha).
    failover_window: float = 60.0

    def delay(self, attempt: int) -> float:
        """Full jitter: a random delay up to an exponentially growing cap."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


def asyncpg_url(url: str) -> str:
    """asyncpg speaks postgresql://; CockroachDB users often write cockroachdb://."""
    if url.startswith("cockroachdb://"):
        return "postgresql://" + url[len("cockroachdb://") :]
    return url


def engine_of(version: str) -> str:
    """Name the server engine from ``SELECT version()``."""
    lowered = version.lower()
    if "cockroachdb" in lowered:
        return "cockroachdb"
    if "-yb-" in lowered or "yugabyte" in lowered:
        return "yugabytedb"
    return "postgresql"


class Database:
    """An asyncpg pool plus the transaction runner.

    Created empty and opened later, so that objects depending on it can be wired before the
    connection exists (the URL of an embedded server is known only once it runs).
    """

    def __init__(self, retry: RetryPolicy | None = None):
        self._pool: asyncpg.Pool | None = None
        self.engine: str | None = None
        self.retry = retry or RetryPolicy()
        self.retries = 0  # transactions re-run after 40001/40P01, for metrics and tests

    @classmethod
    async def connect(cls, url: str, **options: int) -> Database:
        db = cls()
        await db.open(url, **options)
        return db

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database is not open")
        return self._pool

    async def open(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                asyncpg_url(url), min_size=min_size, max_size=max_size, command_timeout=60
            )
        except (*UNAVAILABLE, TimeoutError, asyncpg.PostgresError) as error:
            # Refused, a TLS certificate not trusted, authentication failed, a missing file:
            # one sentence for the operator (asyncpg's messages do not contain the URL).
            raise DatabaseUnreachable(
                f"cannot connect to the database: {type(error).__name__}: {error}"
            ) from None
        async with self._pool.acquire() as conn:
            version = await conn.fetchval("SELECT version()")
        self.engine = engine_of(version)
        log.info("database connected: engine=%s", self.engine)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def transaction(
        self,
        fn: Callable[Concatenate[asyncpg.Connection, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(conn, *args, **kwargs)`` in a SERIALIZABLE transaction, retrying conflicts.

        Use ``fetch``/``execute`` inside ``fn``, not cursors: CockroachDB rejects several
        active portals in one transaction.
        """
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as conn:
                    try:
                        async with conn.transaction(isolation="serializable"):
                            return await fn(conn, *args, **kwargs)
                    except UNAVAILABLE:
                        # A connection cut off mid-transaction can come back from the pool in
                        # a broken protocol state (asyncpg#784): throw it away, never reuse it.
                        # Its idle siblings point at the same server, likely gone or demoted:
                        # they are replaced as they are next acquired.
                        with contextlib.suppress(asyncpg.InterfaceError):
                            conn.terminate()  # unless the pool already let go of a lost one
                        await self.pool.expire_connections()
                        raise
            except RETRYABLE as exc:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise
                self.retries += 1
                TRANSACTION_RETRIES.labels(WORK.get()).inc()
                # Which unit of work conflicted, and PostgreSQL's reason (no data in either).
                log.debug(
                    "transaction retry %d of %s (%s) after %s: %s",
                    attempt,
                    getattr(fn, "__qualname__", "?"),
                    WORK.get(),
                    exc.sqlstate,
                    exc.detail,
                )
                await asyncio.sleep(self.retry.delay(attempt))

    async def keyed_transaction(
        self,
        fn: Callable[Concatenate[asyncpg.Connection, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """:meth:`transaction` for a unit of work that records its own key first (a Telegram
        update's key, a round's region, date and slot): it also waits out a failover.

        When the connection breaks, the server shuts down or turns out to be a standby, the
        unit is run again on a new connection (to the new primary) until
        ``retry.failover_window`` has passed. That is safe only because of the key, and it
        is how a COMMIT whose outcome is unknown is resolved: if the first COMMIT happened,
        the second run finds its key taken and does nothing (the replies it wrote went out
        with the first); if it did not, the second run is the only one. Never use it for work
        without such a key: a blind re-run could do it twice.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry.failover_window
        attempt = 0
        while True:
            try:
                return await self.transaction(fn, *args, **kwargs)
            except UNAVAILABLE as exc:
                if loop.time() >= deadline:
                    raise
                attempt += 1
                self.retries += 1
                TRANSACTION_RETRIES.labels(WORK.get()).inc()
                log.warning("database unavailable (%s); retrying by key", type(exc).__name__)
                await asyncio.sleep(min(1.0, 0.05 * 2**attempt))

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        """A single read outside any explicit transaction (health checks, simple reads)."""
        async with self.pool.acquire() as conn:
            return await conn.fetch(query, *args)
