"""Case management by staff: changes, closing and reopening, new codes, moving between regions,
paged listing, and purging after the retention period. Every query names its regions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.cases import Case
from backend.storage.cases import _COLUMNS, _case

# Tables whose rows belong to a case, keyed (region, case_id): moved with it, purged with it.
_CASE_TABLES = ("activation_codes", "prompts", "diary_entries", "escalations")
_CHANGEABLE = ("quarantine_start", "quarantine_end", "language", "staff_reference", "label")


async def change(
    conn: asyncpg.Connection, region: str, case_id: UUID, changes: dict[str, Any]
) -> Case | None:
    """Set the given fields (only those in ``_CHANGEABLE``)."""
    fields = [name for name in _CHANGEABLE if name in changes]
    if not fields:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM cases WHERE region = $1 AND id = $2", region, case_id
        )
        return _case(rows[0]) if rows else None
    assignments = ", ".join(f"{name} = ${i + 3}" for i, name in enumerate(fields))
    if "language" in fields:
        assignments += ", language_chosen = TRUE"  # staff chose it: activation keeps it
    rows = await conn.fetch(
        f"UPDATE cases SET {assignments} WHERE region = $1 AND id = $2 RETURNING {_COLUMNS}",
        region,
        case_id,
        *(changes[name] for name in fields),
    )
    return _case(rows[0]) if rows else None


async def close(conn: asyncpg.Connection, region: str, case_id: UUID, now: datetime) -> bool:
    status = await conn.execute(
        """
        UPDATE cases SET status = 'closed', closed_at = $3
        WHERE region = $1 AND id = $2 AND status <> 'closed'
        """,
        region,
        case_id,
        now,
    )
    return status.endswith(" 1")


async def reopen(conn: asyncpg.Connection, region: str, case_id: UUID) -> bool:
    """Back to monitoring: active if a chat is bound, else registered (not once purged)."""
    status = await conn.execute(
        """
        UPDATE cases SET closed_at = NULL,
            status = CASE WHEN chat_id IS NULL THEN 'registered' ELSE 'active' END
        WHERE region = $1 AND id = $2 AND status = 'closed' AND purged_at IS NULL
        """,
        region,
        case_id,
    )
    return status.endswith(" 1")


async def revoke_codes(conn: asyncpg.Connection, region: str, case_id: UUID, now: datetime) -> None:
    """Earlier, unused activation codes of the case stop working."""
    await conn.execute(
        """
        UPDATE activation_codes SET expires_at = $3
        WHERE region = $1 AND case_id = $2 AND used_at IS NULL AND expires_at > $3
        """,
        region,
        case_id,
        now,
    )


async def move(conn: asyncpg.Connection, case_id: UUID, old: str, new: str) -> None:
    """The case and everything keyed by it go to another region (its key changes)."""
    columns = [c.strip() for c in _COLUMNS.split(",") if c.strip() != "region"]
    listed = ", ".join(columns)
    await conn.execute(
        f"""
        INSERT INTO cases (region, {listed}, created_by, purged_at, entry_count, reminded_at)
        SELECT $2, {listed}, created_by, purged_at, entry_count, reminded_at
        FROM cases WHERE region = $1 AND id = $3
        """,
        old,
        new,
        case_id,
    )
    for table in _CASE_TABLES:
        await conn.execute(
            f"UPDATE {table} SET region = $2 WHERE region = $1 AND case_id = $3", old, new, case_id
        )
    await conn.execute("DELETE FROM cases WHERE region = $1 AND id = $2", old, case_id)


async def page(
    conn: asyncpg.Connection,
    regions: Sequence[str],
    *,
    status: str | None,
    kind: str | None,
    line_list: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    reference: str | None = None,
) -> list[tuple[Case, Decimal]]:
    """Cases in registration order with each one's open alert weight; keyset paging.
    ``reference``: staff references starting with it, whatever the case."""
    symptomatic = (
        "EXISTS (SELECT 1 FROM escalations e WHERE e.region = c.region AND e.case_id = c.id "
        "AND e.status <> 'resolved' AND e.rule IN "
        "('red_flag', 'temperature', 'symptomatic', 'first_symptom'))"
    )
    silent = (
        "EXISTS (SELECT 1 FROM escalations e WHERE e.region = c.region AND e.case_id = c.id "
        "AND e.status <> 'resolved' AND e.rule = 'non_reporting')"
    )
    lists = {
        None: "TRUE",
        "symptomatic": f"c.status = 'active' AND {symptomatic}",
        "non_reporting": f"c.status = 'active' AND {silent}",
        "reporting": f"c.status = 'active' AND NOT {symptomatic} AND NOT {silent}",
        "closed": "c.status = 'closed'",
    }
    columns = ", ".join(f"c.{column.strip()}" for column in _COLUMNS.split(","))
    rows = await conn.fetch(
        f"""
        SELECT {columns},
               (SELECT coalesce(sum(e.weight), 0) FROM escalations e
                WHERE e.region = c.region AND e.case_id = c.id
                  AND e.status <> 'resolved') AS open_weight
        FROM cases c
        WHERE c.region = ANY($1::TEXT[]) AND {lists[line_list]}
          AND ($2::TEXT IS NULL OR c.status = $2) AND ($3::TEXT IS NULL OR c.kind = $3)
          AND ($4::TIMESTAMPTZ IS NULL OR (c.created_at, c.id) > ($4, $5::UUID))
          AND ($7::TEXT IS NULL OR lower(c.staff_reference) LIKE $7 || '%')
        ORDER BY c.created_at, c.id
        LIMIT $6
        """,
        list(regions),
        status,
        kind,
        after[0] if after else None,
        after[1] if after else None,
        limit,
        _like_prefix(reference) if reference else None,
    )
    return [(_case(row), row["open_weight"]) for row in rows]


def _like_prefix(text: str) -> str:
    """``text`` for ``LIKE text || '%'``: its own wildcards taken literally (the default
    escape character is the backslash in PostgreSQL, CockroachDB and YugabyteDB)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped


async def due_for_purge(
    conn: asyncpg.Connection, region: str, closed_before: datetime, limit: int
) -> list[UUID]:
    rows = await conn.fetch(
        """
        SELECT id FROM cases
        WHERE region = $1 AND status = 'closed' AND purged_at IS NULL AND closed_at < $2
        ORDER BY closed_at LIMIT $3
        """,
        region,
        closed_before,
        limit,
    )
    return [row["id"] for row in rows]


async def purge(conn: asyncpg.Connection, region: str, case_ids: list[UUID], now: datetime) -> int:
    """Delete the diary and every personal field of these cases; keep anonymous counts
    (the number of entries) on the case row. Returns the entries deleted."""
    counts = await conn.fetch(
        """
        SELECT case_id, count(*) AS n FROM diary_entries
        WHERE region = $1 AND case_id = ANY($2::UUID[]) GROUP BY case_id
        """,
        region,
        case_ids,
    )
    entries = {row["case_id"]: row["n"] for row in counts}
    await _purge_messages(conn, region, case_ids)
    for table in _CASE_TABLES:
        await conn.execute(
            f"DELETE FROM {table} WHERE region = $1 AND case_id = ANY($2::UUID[])",
            region,
            case_ids,
        )
    for case_id in case_ids:
        await conn.execute(
            """
            UPDATE cases SET chat_id = NULL, staff_reference = NULL, label = NULL,
                             purged_at = $3, entry_count = $4
            WHERE region = $1 AND id = $2
            """,
            region,
            case_id,
            now,
            entries.get(case_id, 0),
        )
    return sum(entries.values())


async def _purge_messages(conn: asyncpg.Connection, region: str, case_ids: list[UUID]) -> None:
    """Messages about these cases: alerts posted about them, and everything queued or sent to
    their chats (drafts with notes, temperatures) unless a case still open uses the chat."""
    await conn.execute(
        """
        DELETE FROM outbox WHERE subject_id IN (
            SELECT id FROM escalations WHERE region = $1 AND case_id = ANY($2::UUID[]))
        """,
        region,
        case_ids,
    )
    await conn.execute(
        """
        DELETE FROM outbox o
        WHERE o.chat_id IN (SELECT c.chat_id FROM cases c
                            WHERE c.region = $1 AND c.id = ANY($2::UUID[])
                              AND c.chat_id IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM cases other
                          WHERE other.chat_id = o.chat_id AND other.status <> 'closed')
        """,
        region,
        case_ids,
    )
