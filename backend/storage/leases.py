"""Named leases on the database clock: who may do something only one instance should do.

Correctness comes from the conditional write, not from locks (CockroachDB's are best-effort):
a lease is taken only if it is free, expired, or already ours.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg


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
