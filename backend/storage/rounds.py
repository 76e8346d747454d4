"""Rounds (one sending of the daily prompt in a region), their expansion, and reminders.

Everything here is set-based: a round of a million cases is two INSERT ... SELECTs, never a
Python loop over rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import asyncpg

from backend.domain.messages import Kind, Priority

# A household is asked one person after the other: the next prompt is released as soon as
# the previous one is answered, or after this long anyway.
HOUSEHOLD_TURN = timedelta(minutes=10)


async def release_prompt(conn: asyncpg.Connection, region: str, prompt_id: UUID) -> None:
    """Send a household's next prompt now rather than at its turn."""
    await conn.execute(
        """
        UPDATE outbox SET not_before = now()
        WHERE region = $1 AND dedup_key = 'prompt:' || $2::UUID::TEXT
          AND sent_at IS NULL AND failed_at IS NULL AND not_before > now()
        """,
        region,
        prompt_id,
    )


async def insert_round(
    conn: asyncpg.Connection,
    region: str,
    local_date: date,
    slot: str,
    origin: str,
    now: datetime,
) -> UUID | None:
    """Create the round, or return None if this (region, date, slot) was already created."""
    rows = await conn.fetch(
        """
        INSERT INTO rounds (region, local_date, slot, origin, created_at)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (region, local_date, slot) DO NOTHING
        RETURNING id
        """,
        region,
        local_date,
        slot,
        origin,
        now,
    )
    return rows[0]["id"] if rows else None


async def slot_began(conn: asyncpg.Connection, region: str, local_date: date) -> datetime:
    """When the region's current slot of ``local_date`` began: its latest scheduled round,
    else the earliest time there is (the day has had no scheduled round yet)."""
    rows = await conn.fetch(
        """
        SELECT max(created_at) AS began FROM rounds
        WHERE region = $1 AND local_date = $2 AND origin = 'schedule'
        """,
        region,
        local_date,
    )
    return rows[0]["began"] or datetime(1970, 1, 1, tzinfo=UTC)


# The cases a round asks today: $1 region, $3 the round's local date.
_DUE_CASES = """
    FROM cases
    WHERE region = $1 AND status = 'active' AND chat_id IS NOT NULL
      AND unreachable_at IS NULL AND stopped_at IS NULL
      AND quarantine_start <= $3 AND quarantine_end >= $3
"""
# ...leaving out those who answered a prompt of that date created since {since}.
_NOT_ANSWERED_SINCE = """
      AND NOT EXISTS (SELECT 1 FROM prompts a
                      WHERE a.region = cases.region AND a.case_id = cases.id
                        AND a.local_date = $3 AND a.answered_at IS NOT NULL
                        AND a.created_at >= {since}::TIMESTAMPTZ)
"""
# A prompt's id, derived from the round and the case ($2 the round id): both statements below
# compute the same id without passing a million of them around, and without a million calls
# of gen_random_uuid(), which reads the kernel's random source once per row (a tenth of the
# expansion's time on the embedded server). The ids are as unguessable as the round's id.
_PROMPT_ID = "md5($2::UUID::TEXT || id::TEXT)::UUID"


async def expand_round(
    conn: asyncpg.Connection,
    region: str,
    round_id: UUID,
    local_date: date,
    spacing: timedelta,
    answered_since: datetime | None = None,
) -> int:
    """Create a prompt and its outbox message for every case due one; return how many.

    ``answered_since``: leave out cases that answered a prompt of the day created since then
    (a round started by staff asks only who has not answered the current slot).

    Two statements in one transaction (its one snapshot sees the same cases twice), each
    writing its rows in the order of its table's primary key: prompts by case, the outbox by
    the prompt's id, which is also the message's id and the tail of its dedup key. A btree fed
    in key order fills one page after the other; fed at random, a million rows miss the buffer
    cache at every insert and the expansion waits on evictions and WAL flushes (README,
    performance). The messages are spread ``spacing`` apart (the sender's pace), so that a big
    round does not arrive at the sender as one burst competing with alerts. A third statement
    retires the prompts that the new ones replace (``_supersede``).
    """

    def due(since: str) -> str:
        return _DUE_CASES + (_NOT_ANSWERED_SINCE.format(since=since) if answered_since else "")

    since = [answered_since] if answered_since else []
    await conn.execute(
        f"""
        INSERT INTO prompts (region, id, round_id, case_id, chat_id, local_date)
        SELECT region, {_PROMPT_ID}, $2, id, chat_id, $3
        {due("$4")}
        ORDER BY id
        """,
        region,
        round_id,
        local_date,
        *since,
    )
    status = await conn.execute(
        f"""
        INSERT INTO outbox (region, id, dedup_key, priority, kind, chat_id, language, payload,
                            not_before)
        SELECT region, prompt_id, 'prompt:' || prompt_id::TEXT, $4, $5, chat_id, language,
               jsonb_build_object('prompt', prompt_id::TEXT,
                                  'day', ($3::DATE - quarantine_start) + 1,
                                  'days', (quarantine_end - quarantine_start) + 1,
                                  'date', $3::DATE::TEXT, 'label', label),
               now() + (row_number() OVER (ORDER BY prompt_id) - 1) * $6::INTERVAL
                     + prompt_order * $7::INTERVAL
        FROM (SELECT {_PROMPT_ID} AS prompt_id, region, chat_id, language, label,
                     prompt_order, quarantine_start, quarantine_end
              {due("$8")}) AS due
        ORDER BY prompt_id
        """,
        region,
        round_id,
        local_date,
        int(Priority.PROMPT),
        Kind.PROMPT.value,
        spacing,
        HOUSEHOLD_TURN,
        *since,
    )
    count = int(status.split()[-1])
    if count:
        await conn.execute(
            _SUPERSEDE.format(due=due("$6"), prompt_id=_PROMPT_ID),
            region,
            round_id,
            local_date,
            int(Priority.BROADCAST),
            Kind.EDIT.value,
            *since,
        )
    if count > 1:
        await conn.execute(
            "UPDATE rounds SET spread_seconds = $3 WHERE region = $1 AND id = $2",
            region,
            round_id,
            (count - 1) * spacing.total_seconds(),
        )
    return count


# Each new prompt replaces its case's previous one if that was left unanswered: what of it is
# still queued is not sent, and what is on screen (the prompt, a step sent anew) is edited to
# say so, without buttons, when the new prompt is due (after it, at the lowest priority: the
# morning's prompts go first). Older ones were retired by the prompt after them. An answered
# one keeps its summary; its "Correct" button answers that it can no longer be changed.
# The new prompts are found as the statements above found them (their derived ids), so
# nothing scans the prompts of every round; each case's own prompts are read by its key.
_SUPERSEDE = """
    WITH due AS (
        SELECT region, id AS case_id, language, {prompt_id} AS prompt_id
        {due}
    ),
    previous AS (
        SELECT due.region, due.language, due.prompt_id, last.id AS old_id
        FROM due CROSS JOIN LATERAL (
            SELECT p.id, p.answered_at FROM prompts p
            WHERE p.region = due.region AND p.case_id = due.case_id AND p.id <> due.prompt_id
            ORDER BY p.created_at DESC LIMIT 1
        ) AS last
        WHERE last.answered_at IS NULL
    ),
    withdrawn AS (
        UPDATE outbox o SET failed_at = now(), failure = 'superseded',
                            last_error = 'superseded', claimed_until = NULL
        FROM previous
        WHERE o.region = previous.region AND o.id = previous.old_id
          AND o.sent_at IS NULL AND o.failed_at IS NULL
        RETURNING o.id
    ),
    shown AS (
        SELECT o.region, o.chat_id, o.sent_message_id, previous.language, previous.prompt_id
        FROM previous JOIN outbox o ON o.region = previous.region AND o.id = previous.old_id
        WHERE o.sent_message_id IS NOT NULL
        UNION ALL
        SELECT o.region, o.chat_id, o.sent_message_id, previous.language, previous.prompt_id
        FROM previous JOIN outbox o ON o.subject_id = previous.old_id
        WHERE o.region = previous.region AND o.kind = 'questionnaire'
          AND o.payload ->> 'message_id' IS NULL AND o.sent_message_id IS NOT NULL
    )
    INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload,
                        not_before)
    SELECT shown.region,
           'superseded:' || shown.chat_id::TEXT || ':' || shown.sent_message_id::TEXT,
           $4, $5, shown.chat_id, shown.language,
           jsonb_build_object('message_id', shown.sent_message_id, 'message', 'superseded',
                              'params', '{{}}'::JSONB),
           fresh.not_before
    FROM shown JOIN outbox fresh ON fresh.region = shown.region AND fresh.id = shown.prompt_id
    ON CONFLICT (region, dedup_key) DO NOTHING
"""


async def rounds_due_for_reminders(
    conn: asyncpg.Connection, region: str, after: timedelta, now: datetime
) -> list[UUID]:
    """Scheduled rounds at least ``after`` old (but under a day) whose reminders are not all
    done yet (a spread-out round's later prompts get theirs later)."""
    rows = await conn.fetch(
        """
        SELECT id FROM rounds
        WHERE region = $1 AND reminded_at IS NULL AND origin = 'schedule'
          AND created_at <= $3::TIMESTAMPTZ - $2::INTERVAL
          AND created_at > $3::TIMESTAMPTZ - INTERVAL '1 day'
        """,
        region,
        after,
        now,
    )
    return [row["id"] for row in rows]


async def enqueue_reminders(
    conn: asyncpg.Connection, region: str, round_id: UUID, now: datetime, after: timedelta
) -> int:
    """One reminder per chat for the round's unanswered open prompts; never two per case
    within 12 hours. Marks prompts, cases and the round; returns the messages enqueued.

    A prompt is reminded ``after`` its own turn in the round's spread (the offset of its
    outbox message, measured on the database clock), so a large round never reminds people
    whose prompt is still queued. The round is marked done once its last turn has passed.
    """
    status = await conn.execute(
        """
        WITH due AS (
            UPDATE prompts p SET reminded_at = $5
            FROM cases c
            WHERE p.region = $1 AND p.round_id = $2 AND p.answered_at IS NULL
              AND p.reminded_at IS NULL
              AND c.region = p.region AND c.id = p.case_id AND c.status = 'active'
              AND c.unreachable_at IS NULL AND c.stopped_at IS NULL
              AND (c.reminded_at IS NULL OR c.reminded_at < $5::TIMESTAMPTZ - INTERVAL '12 hours')
              AND NOT EXISTS (SELECT 1 FROM prompts n
                              WHERE n.region = p.region AND n.case_id = p.case_id
                                AND n.created_at > p.created_at)
              AND EXISTS (SELECT 1 FROM outbox o, rounds r
                          WHERE o.region = p.region AND o.dedup_key = 'prompt:' || p.id::TEXT
                            AND r.region = p.region AND r.id = p.round_id
                            AND r.created_at + (o.not_before - o.created_at)
                                <= $5::TIMESTAMPTZ - $6::INTERVAL)
            RETURNING p.region, p.id, p.case_id, p.chat_id, c.language
        ),
        marked AS (
            UPDATE cases c SET reminded_at = $5
            FROM due WHERE c.region = due.region AND c.id = due.case_id
            RETURNING c.id
        )
        INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload)
        SELECT region, 'reminder:' || $2::TEXT || ':' || chat_id::TEXT, $3, $4, chat_id,
               language, jsonb_build_object('prompt', id::TEXT)
        FROM due
        ON CONFLICT (region, dedup_key) DO NOTHING
        """,
        region,
        round_id,
        int(Priority.PROMPT),
        Kind.REMINDER.value,
        now,
        after,
    )
    await conn.execute(
        """
        UPDATE rounds SET reminded_at = $3
        WHERE region = $1 AND id = $2
          AND created_at + spread_seconds * INTERVAL '1 second' <= $3::TIMESTAMPTZ - $4::INTERVAL
        """,
        region,
        round_id,
        now,
        after,
    )
    return int(status.split()[-1])
