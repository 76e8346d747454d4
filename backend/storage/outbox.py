"""The outbox: durable outgoing messages, claimed by senders with an expiring lease.

Delivery is at least once: a sender may die after Telegram accepted a message but before it
marked the row sent; another sender then sends it again when the lease expires. The unique
``dedup_key`` keeps the *enqueueing* idempotent; a rare repeat of the *sending* is accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    priority: int = 0


_ENQUEUED = ("region", "dedup_key", "priority", "kind", "chat_id", "language", "payload", "seq",
             "subject_id")  # fmt: skip


async def enqueue(conn: asyncpg.Connection, messages: Iterable[Outgoing]) -> int:
    """Add messages (in order) unless their dedup key exists; return how many were added.

    One statement for all of them: each statement is a round trip, and an update's replies
    are written in every answer's transaction."""
    values: list[object] = []
    rows = []
    for seq, message in enumerate(messages):
        row = (
            message.region,
            message.dedup_key,
            int(message.priority),
            message.kind.value,
            message.chat_id,
            message.language,
            json.dumps(message.payload),
            seq,
            message.subject_id,
        )
        first = len(values) + 1
        values.extend(row)
        # Each value next to its column, by position: $n::JSONB for the payload.
        rows.append(
            "("
            + ", ".join(
                f"${first + i}::JSONB" if column == "payload" else f"${first + i}"
                for i, column in enumerate(_ENQUEUED)
            )
            + ")"
        )
    if not rows:
        return 0
    status = await conn.execute(
        f"""
        INSERT INTO outbox ({", ".join(_ENQUEUED)}) VALUES {", ".join(rows)}
        ON CONFLICT (region, dedup_key) DO NOTHING
        """,
        *values,
    )
    return int(status.split()[-1])


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
            priority=r["priority"],
        )
        for r in ordered
    ]


# Outbox bookkeeping uses the database clock throughout: leases and due times are compared by
# several instances, whose own clocks may disagree.


@dataclass
class BatchResult:
    """What happened to a claimed batch, written back in one transaction."""

    sent: list[tuple[OutboxRow, int | None]] = field(default_factory=list)  # with message id
    failed: list[tuple[OutboxRow, str, str]] = field(default_factory=list)  # failure, error
    later: list[tuple[OutboxRow, float, str, bool]] = field(
        default_factory=list
    )  # delay, why, refund

    def __len__(self) -> int:
        return len(self.sent) + len(self.failed) + len(self.later)


async def finish_batch(conn: asyncpg.Connection, result: BatchResult) -> None:
    """Record a batch's results set-based: three statements whatever its size.

    A message withdrawn while it was on its way (a cancelled broadcast, /stop) is recorded as
    sent if Telegram took it, and stays withdrawn if it was to be tried again. A message that
    is already sent (by a sender that took over while this one's lease had lapsed) stays sent.
    """
    if result.sent:
        await conn.execute(
            """
            UPDATE outbox o SET sent_at = now(), sent_message_id = v.message_id,
                                claimed_until = NULL, failed_at = NULL, failure = NULL
            FROM unnest($1::TEXT[], $2::UUID[], $3::INT8[]) AS v(region, id, message_id)
            WHERE o.region = v.region AND o.id = v.id
            """,
            [row.region for row, _ in result.sent],
            [row.id for row, _ in result.sent],
            [message_id for _, message_id in result.sent],
        )
    if result.failed:
        await conn.execute(
            """
            UPDATE outbox o SET failed_at = now(), failure = v.failure, last_error = v.error,
                                claimed_until = NULL
            FROM unnest($1::TEXT[], $2::UUID[], $3::TEXT[], $4::TEXT[])
                 AS v(region, id, failure, error)
            WHERE o.region = v.region AND o.id = v.id AND o.sent_at IS NULL
            """,
            [row.region for row, _, _ in result.failed],
            [row.id for row, _, _ in result.failed],
            [failure for _, failure, _ in result.failed],
            [error[:500] for _, _, error in result.failed],
        )
    if result.later:
        # A refunded attempt (a pacing deferral, a 429) was not the message's fault.
        await conn.execute(
            """
            UPDATE outbox o SET not_before = now() + v.delay * INTERVAL '1 second',
                                last_error = v.error, claimed_until = NULL,
                                attempts = o.attempts - v.refund
            FROM unnest($1::TEXT[], $2::UUID[], $3::FLOAT8[], $4::TEXT[], $5::INT4[])
                 AS v(region, id, delay, error, refund)
            WHERE o.region = v.region AND o.id = v.id AND o.sent_at IS NULL AND o.failed_at IS NULL
            """,
            [row.region for row, *_ in result.later],
            [row.id for row, *_ in result.later],
            [delay for _, delay, _, _ in result.later],
            [error[:500] for _, _, error, _ in result.later],
            [int(refund) for *_, refund in result.later],
        )


async def fail_chat(conn: asyncpg.Connection, chat_id: int, failure: str) -> int:
    """Give up every pending message to a chat (it blocked the bot); return how many."""
    status = await conn.execute(
        """
        UPDATE outbox SET failed_at = now(), failure = $2, last_error = $2, claimed_until = NULL
        WHERE chat_id = $1 AND sent_at IS NULL AND failed_at IS NULL
        """,
        chat_id,
        failure,
    )
    return int(status.split()[-1])


async def withdraw_for_stopped_chat(conn: asyncpg.Connection, chat_id: int) -> int:
    """The person used /stop: prompts, reminders and non-urgent broadcasts still queued for
    the chat are not sent (replies, the closing message and urgent notices still are)."""
    status = await conn.execute(
        """
        UPDATE outbox SET failed_at = now(), failure = 'stopped', last_error = 'stopped',
                          claimed_until = NULL
        WHERE chat_id = $1 AND sent_at IS NULL AND failed_at IS NULL
          AND (kind IN ('prompt', 'reminder')
               OR (kind = 'broadcast' AND broadcast_id IN (
                     SELECT id FROM broadcasts WHERE NOT urgent)))
        """,
        chat_id,
    )
    return int(status.split()[-1])


async def set_pending_language(conn: asyncpg.Connection, chat_id: int, language: str) -> int:
    """The chat switched language: messages not yet sent are rendered in the new one (they
    are drawn at send time from the row's language)."""
    status = await conn.execute(
        """
        UPDATE outbox SET language = $2
        WHERE chat_id = $1 AND sent_at IS NULL AND failed_at IS NULL
        """,
        chat_id,
        language,
    )
    return int(status.split()[-1])


async def move_chat(conn: asyncpg.Connection, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup: remember the new id and redirect pending messages."""
    await conn.execute(
        """
        INSERT INTO chat_migrations (old_chat_id, new_chat_id) VALUES ($1, $2)
        ON CONFLICT (old_chat_id) DO UPDATE SET new_chat_id = excluded.new_chat_id,
                                                migrated_at = now()
        """,
        old_chat_id,
        new_chat_id,
    )
    await conn.execute(
        """
        UPDATE outbox SET chat_id = $2, claimed_until = NULL
        WHERE chat_id = $1 AND sent_at IS NULL AND failed_at IS NULL
        """,
        old_chat_id,
        new_chat_id,
    )
    # An authority group keeps its region under its new id.
    await conn.execute(
        "UPDATE region_groups SET chat_id = $2 WHERE chat_id = $1", old_chat_id, new_chat_id
    )


async def release_foreign_claims(conn: asyncpg.Connection, worker: str) -> int:
    """Free rows claimed by other senders. Only the lease holder sends, so when it takes over,
    claims by anyone else belong to a sender that is gone."""
    status = await conn.execute(
        """
        UPDATE outbox SET claimed_until = NULL
        WHERE claimed_until IS NOT NULL AND claimed_by <> $1
          AND sent_at IS NULL AND failed_at IS NULL
        """,
        worker,
    )
    return int(status.split()[-1])


async def pending_count(conn: asyncpg.Connection) -> int:
    rows = await conn.fetch(
        "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
    )
    return rows[0]["n"]


async def posted_about(conn: asyncpg.Connection, subject_id: UUID) -> list[tuple[int, int]]:
    """(chat id, message id) of every message about ``subject_id`` that reached Telegram."""
    rows = await conn.fetch(
        """
        SELECT chat_id, sent_message_id FROM outbox
        WHERE subject_id = $1 AND kind = 'alert' AND sent_message_id IS NOT NULL
        ORDER BY sent_at
        """,
        subject_id,
    )
    return [(row["chat_id"], row["sent_message_id"]) for row in rows]


async def update_unsent_about(
    conn: asyncpg.Connection, subject_id: UUID, payload: dict[str, Any]
) -> None:
    """An alert changed before its message went out: send the current state instead."""
    await conn.execute(
        """
        UPDATE outbox SET payload = $2::JSONB
        WHERE subject_id = $1 AND kind = 'alert' AND sent_at IS NULL AND failed_at IS NULL
        """,
        subject_id,
        json.dumps(payload),
    )


@dataclass(frozen=True)
class Menu:
    """A reply with a menu (a /stop or /language keyboard), as sent."""

    message_id: int | None  # None until the sender has recorded it
    answered: bool


async def find_menu(
    conn: asyncpg.Connection, chat_id: int, menu_id: UUID, keyboard: str
) -> Menu | None:
    """The ``keyboard`` menu ``menu_id`` sent to the chat, or None (another chat's, forged).

    Callback data comes from the client: the menu id in it only counts if it names a menu this
    chat was really sent, and the caller checks that it was pressed on that menu's message.
    """
    rows = await conn.fetch(
        """
        SELECT sent_message_id, payload ? 'answered' AS answered FROM outbox
        WHERE subject_id = $1 AND chat_id = $2 AND kind = 'reply'
          AND payload ->> 'keyboard' = $3
        """,
        menu_id,
        chat_id,
        keyboard,
    )
    if not rows:
        return None
    return Menu(message_id=rows[0]["sent_message_id"], answered=rows[0]["answered"])


async def close_menus(conn: asyncpg.Connection, chat_id: int, keyboard: str) -> list[int]:
    """Mark every open ``keyboard`` menu of the chat answered; return their message ids.

    A confirmation is good once: after one menu was answered (or the state it asks about
    changed), an older copy of it must not act again.
    """
    rows = await conn.fetch(
        """
        UPDATE outbox SET payload = payload || '{"answered": true}'::JSONB
        WHERE chat_id = $1 AND kind = 'reply' AND payload ->> 'keyboard' = $2
          AND NOT payload ? 'answered'
        RETURNING sent_message_id
        """,
        chat_id,
        keyboard,
    )
    # A menu still queued is closed too: it goes out, but its buttons will not act.
    return [row["sent_message_id"] for row in rows if row["sent_message_id"] is not None]


@dataclass(frozen=True)
class PromptMessages:
    """Where a prompt's questionnaire is on screen: the message last sent for it (its id None
    while it is queued, or before the sender recorded it) and the ones it replaced."""

    current: int | None
    queued: bool  # the current message has not reached Telegram yet
    replaced: frozenset[int]


async def find_prompt_messages(
    conn: asyncpg.Connection, region: str, chat_id: int, prompt_id: UUID
) -> PromptMessages | None:
    """The prompt's messages (the prompt itself and every step sent anew below it), or None if
    none was sent or is on its way (withdrawn after /stop, held for a household, or purged)."""
    rows = await conn.fetch(
        """
        SELECT sent_message_id, sent_at IS NULL AS queued FROM outbox
        WHERE region = $1 AND chat_id = $2
          AND (dedup_key = 'prompt:' || $3::UUID::TEXT
               OR (subject_id = $3 AND kind = 'questionnaire'
                   AND payload ->> 'message_id' IS NULL))
          AND (sent_at IS NOT NULL OR failed_at IS NULL)
        ORDER BY created_at, seq
        """,
        region,
        chat_id,
        prompt_id,
    )
    if not rows:
        return None
    *earlier, last = rows
    return PromptMessages(
        current=last["sent_message_id"],
        queued=last["queued"],
        replaced=frozenset(
            row["sent_message_id"]
            for row in earlier
            if row["sent_message_id"] is not None
            and row["sent_message_id"] != last["sent_message_id"]
        ),
    )


async def withdraw_prompt(
    conn: asyncpg.Connection, region: str, chat_id: int, prompt_id: UUID
) -> int:
    """A prompt that must not reach the person any more (their case ended): its message, a
    step sent anew and its reminder, while still queued, are not sent. (By the chat's queued
    messages, an index: the payload is not.)"""
    status = await conn.execute(
        """
        UPDATE outbox SET failed_at = now(), failure = 'withdrawn', last_error = 'withdrawn',
                          claimed_until = NULL
        WHERE chat_id = $2 AND sent_at IS NULL AND failed_at IS NULL AND region = $1
          AND kind IN ('prompt', 'questionnaire', 'reminder') AND payload ->> 'prompt' = $3
        """,
        region,
        chat_id,
        str(prompt_id),
    )
    return int(status.split()[-1])
