"""Cases and their activation codes.

Every query of citizen data names the region(s) it may touch: callers pass the regions the
staff member may see, so scoping lives in the SQL, not only in handlers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from backend.domain.cases import Case, NewCase

_COLUMNS = """
    region, id, kind, status, quarantine_start, quarantine_end, language, staff_reference,
    chat_id, created_at, activated_at, closed_at, unreachable_at, stopped_at, label,
    prompt_order, language_chosen, silence_alerted
"""


def _case(row: asyncpg.Record) -> Case:
    return Case(
        region=row["region"],
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        quarantine_start=row["quarantine_start"],
        quarantine_end=row["quarantine_end"],
        language=row["language"],
        staff_reference=row["staff_reference"],
        chat_id=row["chat_id"],
        created_at=row["created_at"],
        activated_at=row["activated_at"],
        closed_at=row["closed_at"],
        unreachable_at=row["unreachable_at"],
        stopped_at=row["stopped_at"],
        label=row["label"],
        prompt_order=row["prompt_order"],
        language_chosen=row["language_chosen"],
        silence_alerted=row["silence_alerted"],
    )


async def insert_case(conn: asyncpg.Connection, case: NewCase, created_by: UUID) -> Case:
    rows = await conn.fetch(
        f"""
        INSERT INTO cases (region, kind, quarantine_start, quarantine_end, language,
                           staff_reference, created_by, label, language_chosen)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {_COLUMNS}
        """,
        case.region,
        case.kind,
        case.quarantine_start,
        case.quarantine_end,
        case.language,
        case.staff_reference,
        created_by,
        case.label,
        case.language_chosen,
    )
    return _case(rows[0])


async def get_case(conn: asyncpg.Connection, regions: Sequence[str], case_id: UUID) -> Case | None:
    """The case if it exists in one of ``regions``; None otherwise (also for other regions)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM cases WHERE region = ANY($1::TEXT[]) AND id = $2",
        list(regions),
        case_id,
    )
    return _case(rows[0]) if rows else None


async def find_by_chat(conn: asyncpg.Connection, chat_id: int) -> list[Case]:
    """Cases bound to a chat (several for a household), oldest first."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM cases WHERE chat_id = $1 ORDER BY created_at, id", chat_id
    )
    return [_case(row) for row in rows]


async def insert_activation_code(
    conn: asyncpg.Connection, region: str, case_id: UUID, code_hash: str, expires_at: datetime
) -> None:
    await conn.execute(
        """
        INSERT INTO activation_codes (region, code_hash, case_id, expires_at)
        VALUES ($1, $2, $3, $4)
        """,
        region,
        code_hash,
        case_id,
        expires_at,
    )


async def get_activation_code(conn: asyncpg.Connection, code_hash: str) -> asyncpg.Record | None:
    rows = await conn.fetch(
        """
        SELECT region, case_id, created_at, expires_at, used_at, used_chat_id
        FROM activation_codes WHERE code_hash = $1
        """,
        code_hash,
    )
    return rows[0] if rows else None


async def has_newer_code(
    conn: asyncpg.Connection, region: str, case_id: UUID, created_at: datetime
) -> bool:
    """Whether staff made the case a newer link than the one created at ``created_at`` (both
    times the database's own: one clock for the comparison)."""
    rows = await conn.fetch(
        """
        SELECT 1 FROM activation_codes
        WHERE region = $1 AND case_id = $2 AND created_at > $3 LIMIT 1
        """,
        region,
        case_id,
        created_at,
    )
    return bool(rows)


async def use_activation_code(
    conn: asyncpg.Connection, code_hash: str, chat_id: int, now: datetime
) -> tuple[str, UUID] | None:
    """Mark an unused, unexpired code used; return (region, case id), or None if it cannot be.

    One conditional UPDATE, so a code works exactly once even under concurrent presses.
    """
    rows = await conn.fetch(
        """
        UPDATE activation_codes SET used_at = $3, used_chat_id = $2
        WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $3
        RETURNING region, case_id
        """,
        code_hash,
        chat_id,
        now,
    )
    return (rows[0]["region"], rows[0]["case_id"]) if rows else None


async def bind_chat(
    conn: asyncpg.Connection, region: str, case_id: UUID, chat_id: int, now: datetime
) -> Case | None:
    """Bind a case to its chat and make it active; None if the case is closed.

    An active case may be bound again with a fresh code (a person who changed phones).
    """
    rows = await conn.fetch(
        f"""
        UPDATE cases
        SET chat_id = $3, status = 'active', activated_at = coalesce(activated_at, $4),
            prompt_order = (SELECT count(*) FROM cases o
                            WHERE o.chat_id = $3 AND o.status = 'active'
                              AND NOT (o.region = $1 AND o.id = $2))
        WHERE region = $1 AND id = $2 AND status <> 'closed'
        RETURNING {_COLUMNS}
        """,
        region,
        case_id,
        chat_id,
        now,
    )
    return _case(rows[0]) if rows else None


async def close_finished(
    conn: asyncpg.Connection,
    region: str,
    today: date,
    include_today: bool,
    now: datetime,
    priority: int,
    kind: str,
    emergency_number: str,
) -> list[Case]:
    """Close cases whose quarantine has ended (today's too when ``include_today``) and enqueue
    a closing message for each activated, reachable one. Returns the cases closed."""
    rows = await conn.fetch(
        f"""
        WITH closed AS (
            UPDATE cases SET status = 'closed', closed_at = $4
            WHERE region = $1 AND status IN ('registered', 'active')
              AND (quarantine_end < $2 OR (quarantine_end = $2 AND $3))
            RETURNING {_COLUMNS}
        ),
        told AS (
            INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload)
            SELECT region, 'closing:' || id::TEXT, $5, $6, chat_id, language,
                   jsonb_build_object('end', quarantine_end::TEXT, 'emergency', $7::TEXT)
            FROM closed WHERE chat_id IS NOT NULL AND unreachable_at IS NULL
            ON CONFLICT (region, dedup_key) DO NOTHING
        )
        SELECT * FROM closed
        """,
        region,
        today,
        include_today,
        now,
        priority,
        kind,
        emergency_number,
    )
    return [_case(row) for row in rows]


async def set_silence_alerted(
    conn: asyncpg.Connection, region: str, case_id: UUID, alerted: bool
) -> None:
    """The hint that a non-reporting alert may be open (migration 0012)."""
    await conn.execute(
        "UPDATE cases SET silence_alerted = $3 WHERE region = $1 AND id = $2",
        region,
        case_id,
        alerted,
    )


async def mark_unreachable(conn: asyncpg.Connection, chat_id: int) -> int:
    """The person blocked the bot: no more prompts, reminders or broadcasts to this chat."""
    status = await conn.execute(
        "UPDATE cases SET unreachable_at = now() WHERE chat_id = $1 AND unreachable_at IS NULL",
        chat_id,
    )
    return int(status.split()[-1])


async def mark_reachable(conn: asyncpg.Connection, chat_id: int) -> None:
    """The person wrote to the bot again, so they have unblocked it."""
    await conn.execute(
        "UPDATE cases SET unreachable_at = NULL WHERE chat_id = $1 AND unreachable_at IS NOT NULL",
        chat_id,
    )


async def set_language(conn: asyncpg.Connection, chat_id: int, language: str) -> int:
    """The chat's people speak ``language`` from now on (all cases of a household)."""
    status = await conn.execute(
        "UPDATE cases SET language = $2 WHERE chat_id = $1 AND status <> 'closed'",
        chat_id,
        language,
    )
    return int(status.split()[-1])


async def settle_language(
    conn: asyncpg.Connection, region: str, case_id: UUID, language: str
) -> Case | None:
    """The language found at activation for a case registered without one; kept from then on."""
    rows = await conn.fetch(
        f"""
        UPDATE cases SET language = $3, language_chosen = TRUE
        WHERE region = $1 AND id = $2
        RETURNING {_COLUMNS}
        """,
        region,
        case_id,
        language,
    )
    return _case(rows[0]) if rows else None


async def set_stopped(conn: asyncpg.Connection, chat_id: int, stopped_at: datetime | None) -> int:
    """/stop (a time) or /resume (None) for every open case of the chat."""
    status = await conn.execute(
        "UPDATE cases SET stopped_at = $2 WHERE chat_id = $1 AND status = 'active'",
        chat_id,
        stopped_at,
    )
    return int(status.split()[-1])


LINE_LISTS = ("symptomatic", "non_reporting", "reporting", "closed")
_SYMPTOM_RULES = "('red_flag', 'temperature', 'symptomatic', 'first_symptom')"


async def line_list(
    conn: asyncpg.Connection, regions: Sequence[str], name: str, limit: int = 500
) -> list[tuple[Case, Decimal]]:
    """Sara Alert's line lists, with each case's open alert weight; most pressing first.

    symptomatic: an open alert about symptoms; non_reporting: an open non-reporting alert;
    reporting: the other active cases; closed: monitoring ended.
    """
    open_rule = (
        "EXISTS (SELECT 1 FROM escalations e WHERE e.region = c.region AND e.case_id = c.id "
        "AND e.status <> 'resolved' AND e.rule IN {rules})"
    )
    symptomatic = open_rule.format(rules=_SYMPTOM_RULES)
    silent = open_rule.format(rules="('non_reporting')")
    where = {
        "symptomatic": f"c.status = 'active' AND {symptomatic}",
        "non_reporting": f"c.status = 'active' AND {silent}",
        "reporting": f"c.status = 'active' AND NOT {symptomatic} AND NOT {silent}",
        "closed": "c.status = 'closed'",
    }[name]
    columns = ", ".join(f"c.{column.strip()}" for column in _COLUMNS.split(","))
    rows = await conn.fetch(
        f"""
        SELECT {columns},
               (SELECT coalesce(sum(e.weight), 0) FROM escalations e
                WHERE e.region = c.region AND e.case_id = c.id
                  AND e.status <> 'resolved') AS open_weight
        FROM cases c
        WHERE c.region = ANY($1::TEXT[]) AND {where}
        ORDER BY open_weight DESC, c.created_at, c.id
        LIMIT $2
        """,
        list(regions),
        limit,
    )
    return [(_case(row), row["open_weight"]) for row in rows]
