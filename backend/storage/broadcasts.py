"""Broadcasts: a staff notice and its deliveries, which are outbox rows expanded in SQL.

Readers name the regions the caller may reach; a broadcast is visible only if all its regions
are among them (``regions <@ $n::JSONB``), so another authority's broadcast is simply not found,
in SQL and not only in the service layer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.messages import Kind


@dataclass(frozen=True)
class Broadcast:
    id: UUID
    regions: tuple[str, ...]
    urgent: bool
    created_at: datetime
    cancelled_at: datetime | None
    total: int


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    blocked: int
    cancelled: int
    pending: int
    first_sent_at: datetime | None
    last_done_at: datetime | None


def _broadcast(row: asyncpg.Record) -> Broadcast:
    return Broadcast(
        id=row["id"],
        regions=tuple(json.loads(row["regions"])),
        urgent=row["urgent"],
        created_at=row["created_at"],
        cancelled_at=row["cancelled_at"],
        total=row["total"],
    )


async def insert(
    conn: asyncpg.Connection,
    created_by: UUID,
    regions: list[str],
    texts: dict[str, str],
    filter: dict[str, Any],
    urgent: bool,
) -> UUID:
    rows = await conn.fetch(
        """
        INSERT INTO broadcasts (created_by, regions, texts, filter, urgent)
        VALUES ($1, $2::JSONB, $3::JSONB, $4::JSONB, $5) RETURNING id
        """,
        created_by,
        json.dumps(regions),
        json.dumps(texts),
        json.dumps(filter),
        urgent,
    )
    return rows[0]["id"]


async def expand(
    conn: asyncpg.Connection,
    broadcast_id: UUID,
    regions: list[str],
    texts: dict[str, str],
    kind: str | None,
    urgent: bool,
    priority: int,
) -> int:
    """One message per chat of every monitored case in ``regions`` (households get one), in
    the person's language, else the region's default. People who used /stop get urgent
    notices only; people who blocked the bot get nothing. Returns the deliveries created."""
    status = await conn.execute(
        """
        INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload,
                            broadcast_id)
        SELECT DISTINCT ON (c.chat_id)
               c.region, 'broadcast:' || $1::UUID::TEXT || ':' || c.chat_id::TEXT, $6, $7,
               c.chat_id,
               CASE WHEN $3::JSONB ? c.language THEN c.language ELSE r.default_language END,
               jsonb_build_object('text', coalesce($3::JSONB ->> c.language,
                                                   $3::JSONB ->> r.default_language)),
               $1::UUID
        FROM cases c JOIN regions r ON r.id = c.region
        WHERE c.region = ANY($2::TEXT[]) AND c.status = 'active' AND c.chat_id IS NOT NULL
          AND c.unreachable_at IS NULL AND (c.stopped_at IS NULL OR $5)
          AND ($4::TEXT IS NULL OR c.kind = $4)
        ORDER BY c.chat_id, c.created_at
        ON CONFLICT (region, dedup_key) DO NOTHING
        """,
        broadcast_id,
        regions,
        json.dumps(texts),
        kind,
        urgent,
        priority,
        Kind.BROADCAST.value,
    )
    total = int(status.split()[-1])
    await conn.execute("UPDATE broadcasts SET total = $2 WHERE id = $1", broadcast_id, total)
    return total


async def count_recipients(
    conn: asyncpg.Connection, regions: list[str], kind: str | None, urgent: bool
) -> int:
    """How many chats ``expand`` would reach now (for a preview)."""
    rows = await conn.fetch(
        """
        SELECT count(DISTINCT chat_id) AS n FROM cases
        WHERE region = ANY($1::TEXT[]) AND status = 'active' AND chat_id IS NOT NULL
          AND unreachable_at IS NULL AND (stopped_at IS NULL OR $3)
          AND ($2::TEXT IS NULL OR kind = $2)
        """,
        regions,
        kind,
        urgent,
    )
    return rows[0]["n"]


async def get(
    conn: asyncpg.Connection, regions: Sequence[str], broadcast_id: UUID
) -> Broadcast | None:
    """The broadcast if all its regions are among ``regions``; None otherwise."""
    rows = await conn.fetch(
        """
        SELECT id, regions, urgent, created_at, cancelled_at, total FROM broadcasts
        WHERE id = $1 AND regions <@ $2::JSONB
        """,
        broadcast_id,
        json.dumps(list(regions)),
    )
    return _broadcast(rows[0]) if rows else None


async def progress(
    conn: asyncpg.Connection, regions: Sequence[str], broadcast_id: UUID
) -> Progress:
    """Delivery counts of a broadcast visible in ``regions`` (all zero for any other)."""
    rows = await conn.fetch(
        """
        SELECT count(*) AS total,
               count(sent_at) AS sent,
               sum(CASE WHEN failure IN ('blocked', 'cancelled', 'stopped') OR failed_at IS NULL
                        THEN 0 ELSE 1 END) AS failed,
               sum(CASE WHEN failure = 'blocked' THEN 1 ELSE 0 END) AS blocked,
               -- withdrawn: the broadcast was cancelled, or the person used /stop meanwhile
               sum(CASE WHEN failure IN ('cancelled', 'stopped') THEN 1 ELSE 0 END) AS cancelled,
               sum(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END) AS pending,
               min(sent_at) AS first_sent_at,
               max(coalesce(sent_at, failed_at)) AS last_done_at
        FROM outbox
        WHERE broadcast_id = $1 AND region = ANY($2::TEXT[])
          AND EXISTS (SELECT 1 FROM broadcasts WHERE id = $1 AND regions <@ $3::JSONB)
        """,
        broadcast_id,
        list(regions),
        json.dumps(list(regions)),
    )
    row = rows[0]
    return Progress(
        total=row["total"],
        sent=row["sent"],
        failed=row["failed"] or 0,
        blocked=row["blocked"] or 0,
        cancelled=row["cancelled"] or 0,
        pending=row["pending"] or 0,
        first_sent_at=row["first_sent_at"],
        last_done_at=row["last_done_at"],
    )


async def cancel(conn: asyncpg.Connection, regions: Sequence[str], broadcast_id: UUID) -> int:
    """Stop what has not been sent of a broadcast whose regions are all among ``regions`` (the
    caller's writable ones; any other broadcast is left alone). A message already on its way may
    still arrive (and is then recorded as sent); one that would have been retried is not."""
    await conn.execute(
        """
        UPDATE broadcasts SET cancelled_at = now()
        WHERE id = $1 AND regions <@ $2::JSONB AND cancelled_at IS NULL
        """,
        broadcast_id,
        json.dumps(list(regions)),
    )
    status = await conn.execute(
        """
        UPDATE outbox SET failed_at = now(), failure = 'cancelled', last_error = 'cancelled'
        WHERE broadcast_id = $1 AND region = ANY($2::TEXT[])
          AND sent_at IS NULL AND failed_at IS NULL
          AND EXISTS (SELECT 1 FROM broadcasts WHERE id = $1 AND regions <@ $3::JSONB)
        """,
        broadcast_id,
        list(regions),
        json.dumps(list(regions)),
    )
    return int(status.split()[-1])


async def recent(conn: asyncpg.Connection, regions: Sequence[str], limit: int) -> list[Broadcast]:
    """The latest broadcasts all of whose regions are among ``regions``, newest first."""
    rows = await conn.fetch(
        """
        SELECT id, regions, urgent, created_at, cancelled_at, total FROM broadcasts
        WHERE regions <@ $1::JSONB
        ORDER BY created_at DESC, id
        LIMIT $2
        """,
        json.dumps(list(regions)),
        limit,
    )
    return [_broadcast(row) for row in rows]
