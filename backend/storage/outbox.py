"""The outbox: durable outgoing messages, claimed by senders with an expiring lease.

Delivery is at least once: a sender may die after Telegram accepted a message but before it
marked the row sent; another sender then sends it again when the lease expires. The unique
``dedup_key`` keeps the *enqueueing* idempotent; a rare repeat of the *sending* is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.messages import Outgoing


@dataclass(frozen=True)
class OutboxRow:
    region: str
    id: UUID
    kind: str
    chat_id: int
    language: str
    payload: dict[str, Any]
    attempts: int


async def enqueue(conn: asyncpg.Connection, messages: Iterable[Outgoing]) -> int:
    """Add messages (in order) unless their dedup key exists; return how many were added."""
    added = 0
    for seq, message in enumerate(messages):
        status = await conn.execute(
            """
            INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload, seq)
            VALUES ($1, $2, $3, $4, $5, $6, $7::JSONB, $8)
            ON CONFLICT (region, dedup_key) DO NOTHING
            """,
            message.region,
            message.dedup_key,
            int(message.priority),
            message.kind.value,
            message.chat_id,
            message.language,
            json.dumps(message.payload),
            seq,
        )
        added += int(status.split()[-1])
    return added


async def claim_due(
    conn: asyncpg.Connection, worker: str, limit: int, lease: timedelta
) -> list[OutboxRow]:
    """Lease up to ``limit`` due rows, most urgent first.

    SKIP LOCKED keeps concurrent senders apart on PostgreSQL; correctness comes from the lease
    predicate, repeated in the outer WHERE, because CockroachDB's row locks are best-effort.
    """
    rows = await conn.fetch(
        """
        UPDATE outbox
        SET claimed_until = now() + $3::INTERVAL, claimed_by = $1,
            attempts = attempts + 1
        WHERE (region, id) IN (
                SELECT region, id FROM outbox
                WHERE sent_at IS NULL AND failed_at IS NULL AND not_before <= now()
                  AND (claimed_until IS NULL OR claimed_until < now())
                ORDER BY priority, not_before, created_at, seq
                LIMIT $2
                FOR UPDATE SKIP LOCKED)
          AND (claimed_until IS NULL OR claimed_until < now())
        RETURNING region, id, kind, chat_id, language, payload, attempts,
                  priority, not_before, created_at, seq
        """,
        worker,
        limit,
        lease,
    )
    ordered = sorted(
        rows, key=lambda r: (r["priority"], r["not_before"], r["created_at"], r["seq"])
    )
    return [
        OutboxRow(
            region=r["region"],
            id=r["id"],
            kind=r["kind"],
            chat_id=r["chat_id"],
            language=r["language"],
            payload=json.loads(r["payload"]),
            attempts=r["attempts"],
        )
        for r in ordered
    ]


# Outbox bookkeeping uses the database clock throughout: leases and due times are compared by
# several instances, whose own clocks may disagree.


async def mark_sent(conn: asyncpg.Connection, row: OutboxRow, message_id: int | None) -> None:
    await conn.execute(
        """
        UPDATE outbox SET sent_at = now(), sent_message_id = $3, claimed_until = NULL
        WHERE region = $1 AND id = $2
        """,
        row.region,
        row.id,
        message_id,
    )


async def mark_failed(conn: asyncpg.Connection, row: OutboxRow, reason: str) -> None:
    """Give up on a message for good (e.g. 400 Bad Request, 403 blocked)."""
    await conn.execute(
        """
        UPDATE outbox SET failed_at = now(), last_error = $3, claimed_until = NULL
        WHERE region = $1 AND id = $2
        """,
        row.region,
        row.id,
        reason[:500],
    )


async def retry_later(
    conn: asyncpg.Connection, row: OutboxRow, delay: timedelta, reason: str
) -> None:
    await conn.execute(
        """
        UPDATE outbox SET not_before = now() + $3::INTERVAL, last_error = $4, claimed_until = NULL
        WHERE region = $1 AND id = $2
        """,
        row.region,
        row.id,
        delay,
        reason[:500],
    )


async def pending_count(conn: asyncpg.Connection) -> int:
    rows = await conn.fetch(
        "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
    )
    return rows[0]["n"]
