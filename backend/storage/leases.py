"""Named leases on the database clock: who may do something only one instance should do.

Correctness comes from the conditional write, not from locks (CockroachDB's are best-effort):
a lease is taken only if it is free, expired, or already ours.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

import asyncpg

from backend.storage.database import Database


def holder_name() -> str:
    """Names this process to an operator looking at the leases table: host, pid, and a random
    part, since pids repeat across containers."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def acquire(conn: asyncpg.Connection, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease; True if ``holder`` has it now."""
    rows = await conn.fetch(
        """
        INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3::INTERVAL)
        ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE leases.expires_at < now() OR leases.holder = excluded.holder
        RETURNING holder
        """,
        name,
        holder,
        ttl,
    )
    return bool(rows)


async def release(conn: asyncpg.Connection, name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so another instance need not wait."""
    await conn.execute("DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder)


async def hold_off(conn: asyncpg.Connection, name: str, seconds: float) -> None:
    """Nobody may do ``name`` for ``seconds`` (Telegram's 429 ``retry_after``): kept as a lease
    that no instance holds, so that whichever instance sends next honours it too."""
    await conn.execute(
        """
        INSERT INTO leases (name, holder, expires_at)
        VALUES ($1, 'hold-off', now() + $2::FLOAT8 * INTERVAL '1 second')
        ON CONFLICT (name) DO UPDATE
        SET expires_at = GREATEST(leases.expires_at, excluded.expires_at)
        """,
        name,
        seconds,
    )


async def seconds_left(conn: asyncpg.Connection, name: str) -> float:
    """How long the lease or hold-off ``name`` still runs (0 if it has expired or never was)."""
    rows = await conn.fetch(
        "SELECT EXTRACT(EPOCH FROM expires_at - now()) AS remaining FROM leases WHERE name = $1",
        name,
    )
    return max(0.0, float(rows[0]["remaining"])) if rows else 0.0


class Lease:
    """One named lease held by this process: ``hold`` takes or renews it, ``release`` frees it.

    Callers renew well within ``ttl``; if this process dies, another takes over once the
    lease has expired.
    """

    def __init__(self, db: Database, name: str, ttl: timedelta):
        self.db = db
        self.name = name
        self.ttl = ttl
        self.holder = holder_name()
        self.held = False

    async def hold(self) -> bool:
        self.held = await self.db.transaction(acquire, self.name, self.holder, self.ttl)
        return self.held

    async def release(self) -> None:
        if self.held:
            self.held = False
            await self.db.transaction(release, self.name, self.holder)
