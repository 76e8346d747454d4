"""Escalations (alerts to an authority): one open per case and rule, claimed and resolved."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from backend.domain.cases import case_reference
from backend.domain.rules import Finding

_COLUMNS = """
    e.region, e.id, e.case_id, e.rule, e.severity, e.weight, e.status, e.reasons, e.created_at,
    e.updated_at, e.posted_at, e.reposts, e.claimed_by, e.claimed_at, e.resolved_by,
    e.resolved_at, e.resolution, coalesce(e.post_id, e.id) AS post_id,
    (SELECT name FROM staff_members s WHERE s.id = e.claimed_by) AS claimed_by_name,
    (SELECT name FROM staff_members s WHERE s.id = e.resolved_by) AS resolved_by_name,
    (SELECT c.staff_reference FROM cases c WHERE c.region = e.region AND c.id = e.case_id)
        AS staff_reference
"""


@dataclass(frozen=True)
class Escalation:
    region: str
    id: UUID
    case_id: UUID
    rule: str
    severity: str
    weight: Decimal
    status: str  # open, claimed, resolved
    reasons: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None
    reposts: int
    claimed_by: UUID | None
    claimed_by_name: str | None
    claimed_at: datetime | None
    resolved_by: UUID | None
    resolved_by_name: str | None
    resolved_at: datetime | None
    resolution: str | None
    # The group message this alert was posted in, with the others the same entry raised: the
    # id of the first of them (the alert's own id when it was posted alone).
    post_id: UUID
    staff_reference: str | None = None  # the case's, for staff who read alerts in a list

    @property
    def case_reference(self) -> str:
        return case_reference(self.staff_reference, self.case_id)


def _escalation(row: asyncpg.Record) -> Escalation:
    return Escalation(
        region=row["region"],
        id=row["id"],
        case_id=row["case_id"],
        rule=row["rule"],
        severity=row["severity"],
        weight=row["weight"],
        status=row["status"],
        reasons=json.loads(row["reasons"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        posted_at=row["posted_at"],
        reposts=row["reposts"],
        claimed_by=row["claimed_by"],
        claimed_by_name=row["claimed_by_name"],
        claimed_at=row["claimed_at"],
        resolved_by=row["resolved_by"],
        resolved_by_name=row["resolved_by_name"],
        resolved_at=row["resolved_at"],
        resolution=row["resolution"],
        post_id=row["post_id"],
        staff_reference=row["staff_reference"],
    )


async def raise_alert(
    conn: asyncpg.Connection,
    region: str,
    case_id: UUID,
    finding: Finding,
    now: datetime,
    post_id: UUID | None = None,
) -> tuple[Escalation, bool]:
    """Open an alert, or update the open one of this case and rule. True if it is new.

    A new alert joins the group message ``post_id`` (another alert the same entry raised);
    None: it is the first, and its own id names the message.

    Update first, insert only if nothing was open: which statement wrote the row is what
    says "new", on every engine. (Comparing created_at with updated_at calls a repeat at the
    same instant new; ``xmax = 0`` is PostgreSQL only.) Two transactions raising the same
    alert at once meet at the partial unique index ``escalations_one_open``: at SERIALIZABLE
    one of them is retried and then finds the other's alert to update.
    """
    escalation_id = await _update_open(conn, region, case_id, finding, now)
    new = escalation_id is None
    if new:
        new_id = uuid4()
        inserted = await conn.fetch(
            """
            INSERT INTO escalations (region, id, case_id, rule, severity, weight, reasons,
                                     created_at, updated_at, post_id)
            VALUES ($1, $8::UUID, $2, $3, $4, $5, $6::JSONB, $7, $7, coalesce($9::UUID, $8::UUID))
            ON CONFLICT (region, case_id, rule) WHERE status <> 'resolved' DO NOTHING
            RETURNING id
            """,
            region,
            case_id,
            finding.rule.value,
            finding.severity,
            finding.weight,
            json.dumps(list(finding.reasons)),
            now,
            new_id,
            post_id,
        )
        if inserted:
            escalation_id = inserted[0]["id"]
        else:
            # Opened by another transaction after our UPDATE looked (only possible below
            # SERIALIZABLE): update that one; posting it is the other's business.
            new = False
            escalation_id = await _update_open(conn, region, case_id, finding, now)
    assert escalation_id is not None
    escalation = await get(conn, [region], escalation_id)
    assert escalation is not None
    return escalation, new


async def _update_open(
    conn: asyncpg.Connection, region: str, case_id: UUID, finding: Finding, now: datetime
) -> UUID | None:
    """Refresh the open alert of this case and rule with the new finding; its id, or None."""
    rows = await conn.fetch(
        """
        UPDATE escalations SET reasons = $4::JSONB, updated_at = $5, severity = $6, weight = $7
        WHERE region = $1 AND case_id = $2 AND rule = $3 AND status <> 'resolved'
        RETURNING id
        """,
        region,
        case_id,
        finding.rule.value,
        json.dumps(list(finding.reasons)),
        now,
        finding.severity,
        finding.weight,
    )
    return rows[0]["id"] if rows else None


async def get(
    conn: asyncpg.Connection, regions: Sequence[str], escalation_id: UUID
) -> Escalation | None:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM escalations e WHERE e.region = ANY($1::TEXT[]) AND e.id = $2",
        list(regions),
        escalation_id,
    )
    return _escalation(rows[0]) if rows else None


async def find(
    conn: asyncpg.Connection,
    regions: Sequence[str],
    status: str | None = None,
    severity: str | None = None,
    limit: int = 500,
) -> list[tuple[Escalation, Decimal]]:
    """Alerts with their case's open weight, most pressing first (Quarano's worklist order).
    ``status`` 'unresolved': open and claimed ones."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS},
               (SELECT coalesce(sum(o.weight), 0) FROM escalations o
                WHERE o.region = e.region AND o.case_id = e.case_id
                  AND o.status <> 'resolved') AS case_weight
        FROM escalations e
        WHERE e.region = ANY($1::TEXT[])
          AND ($2::TEXT IS NULL OR e.status = $2
               OR ($2 = 'unresolved' AND e.status <> 'resolved'))
          AND ($3::TEXT IS NULL OR e.severity = $3)
        ORDER BY case_weight DESC,
                 CASE e.severity WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 ELSE 2 END,
                 e.created_at, e.id
        LIMIT $4
        """,
        list(regions),
        status,
        severity,
        limit,
    )
    return [(_escalation(row), row["case_weight"]) for row in rows]


async def claim(
    conn: asyncpg.Connection, region: str, escalation_id: UUID, staff_id: UUID, now: datetime
) -> bool:
    """First claim wins: a conditional update, so two at once cannot both succeed."""
    status = await conn.execute(
        """
        UPDATE escalations SET status = 'claimed', claimed_by = $3, claimed_at = $4,
                               updated_at = $4
        WHERE region = $1 AND id = $2 AND status = 'open'
        """,
        region,
        escalation_id,
        staff_id,
        now,
    )
    return status.endswith(" 1")


async def claim_case(
    conn: asyncpg.Connection, region: str, case_id: UUID, staff_id: UUID, now: datetime
) -> list[Escalation]:
    """Claim every open alert of a case at once (the group's Claim button); those it claimed.

    The same conditional update as ``claim``: an alert someone else claimed first is left
    with them."""
    rows = await conn.fetch(
        """
        UPDATE escalations SET status = 'claimed', claimed_by = $3, claimed_at = $4,
                               updated_at = $4
        WHERE region = $1 AND case_id = $2 AND status = 'open'
        RETURNING id
        """,
        region,
        case_id,
        staff_id,
        now,
    )
    return await get_many(conn, region, [row["id"] for row in rows])


async def resolve_case(
    conn: asyncpg.Connection,
    region: str,
    case_id: UUID,
    staff_id: UUID,
    comment: str | None,
    now: datetime,
) -> list[Escalation]:
    """Resolve every unresolved alert of a case at once (the group's Resolve button)."""
    rows = await conn.fetch(
        """
        UPDATE escalations SET status = 'resolved', resolved_by = $3, resolution = $4,
                               resolved_at = $5, updated_at = $5
        WHERE region = $1 AND case_id = $2 AND status <> 'resolved'
        RETURNING id
        """,
        region,
        case_id,
        staff_id,
        comment,
        now,
    )
    return await get_many(conn, region, [row["id"] for row in rows])


async def get_many(
    conn: asyncpg.Connection, region: str, escalation_ids: Sequence[UUID]
) -> list[Escalation]:
    if not escalation_ids:
        return []
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM escalations e
        WHERE e.region = $1 AND e.id = ANY($2::UUID[]) ORDER BY e.created_at, e.id
        """,
        region,
        list(escalation_ids),
    )
    return [_escalation(row) for row in rows]


async def in_post(
    conn: asyncpg.Connection, region: str, case_id: UUID, post_id: UUID
) -> list[Escalation]:
    """The alerts one group message lists, in the order they were raised."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM escalations e
        WHERE e.region = $1 AND e.case_id = $2
          AND (e.post_id = $3 OR (e.post_id IS NULL AND e.id = $3))
        ORDER BY e.created_at, e.id
        """,
        region,
        case_id,
        post_id,
    )
    return [_escalation(row) for row in rows]


async def resolve(
    conn: asyncpg.Connection,
    region: str,
    escalation_id: UUID,
    staff_id: UUID | None,
    comment: str | None,
    now: datetime,
) -> bool:
    status = await conn.execute(
        """
        UPDATE escalations SET status = 'resolved', resolved_by = $3, resolution = $4,
                               resolved_at = $5, updated_at = $5
        WHERE region = $1 AND id = $2 AND status <> 'resolved'
        """,
        region,
        escalation_id,
        staff_id,
        comment,
        now,
    )
    return status.endswith(" 1")


async def unresolved_for_case(
    conn: asyncpg.Connection, region: str, case_id: UUID
) -> list[Escalation]:
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM escalations e
        WHERE e.region = $1 AND e.case_id = $2 AND e.status <> 'resolved'
        ORDER BY e.created_at, e.id
        """,
        region,
        case_id,
    )
    return [_escalation(row) for row in rows]


async def open_for_case(
    conn: asyncpg.Connection, region: str, case_id: UUID, rule: str
) -> Escalation | None:
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM escalations e
        WHERE e.region = $1 AND e.case_id = $2 AND e.rule = $3 AND e.status <> 'resolved'
        """,
        region,
        case_id,
        rule,
    )
    return _escalation(rows[0]) if rows else None


async def mark_posted(
    conn: asyncpg.Connection,
    region: str,
    case_id: UUID,
    post_id: UUID,
    now: datetime,
    repost: bool,
) -> int:
    """Record a (re)posting of a group message, on every alert it lists; returns the number
    of this posting (0 for the first)."""
    rows = await conn.fetch(
        """
        UPDATE escalations SET posted_at = $4, reposts = reposts + $5
        WHERE region = $1 AND case_id = $2 AND (post_id = $3 OR (post_id IS NULL AND id = $3))
        RETURNING reposts
        """,
        region,
        case_id,
        post_id,
        now,
        1 if repost else 0,
    )
    return max((row["reposts"] for row in rows), default=0)


async def unclaimed_urgent(
    conn: asyncpg.Connection, region: str, posted_before: datetime, max_reposts: int
) -> list[Escalation]:
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM escalations e
        WHERE e.region = $1 AND e.status = 'open' AND e.severity = 'urgent'
          AND e.posted_at <= $2 AND e.reposts < $3
        """,
        region,
        posted_before,
        max_reposts,
    )
    return [_escalation(row) for row in rows]


async def silent_cases(
    conn: asyncpg.Connection, region: str, silent_since: datetime
) -> list[tuple[UUID, datetime]]:
    """Active, reachable cases silent since ``silent_since``: (case id, last activity).

    Left out: a case with an open non-reporting alert, and one whose last non-reporting alert
    was resolved after ``silent_since``. Staff resolving an alert starts the period afresh;
    without that, the next sweep (a minute later) would raise it again at once.
    """
    rows = await conn.fetch(
        """
        SELECT s.id, s.last_activity
        FROM (SELECT c.id,
                     greatest(c.activated_at,
                              (SELECT max(d.recorded_at) FROM diary_entries d
                               WHERE d.region = c.region AND d.case_id = c.id)) AS last_activity,
                     (SELECT max(e.resolved_at) FROM escalations e
                      WHERE e.region = c.region AND e.case_id = c.id
                        AND e.rule = 'non_reporting') AS last_resolved
              FROM cases c
              WHERE c.region = $1 AND c.status = 'active' AND c.chat_id IS NOT NULL
                AND c.stopped_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM escalations e
                                WHERE e.region = c.region AND e.case_id = c.id
                                  AND e.rule = 'non_reporting' AND e.status <> 'resolved')
             ) AS s
        WHERE s.last_activity <= $2 AND (s.last_resolved IS NULL OR s.last_resolved <= $2)
        """,
        region,
        silent_since,
    )
    return [(row["id"], row["last_activity"]) for row in rows]


async def for_case(conn: asyncpg.Connection, region: str, case_id: UUID) -> list[Escalation]:
    """Every alert of a case, resolved ones too, newest first (the case's alert history)."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM escalations e WHERE e.region = $1 AND e.case_id = $2
        ORDER BY e.created_at DESC, e.id
        """,
        region,
        case_id,
    )
    return [_escalation(row) for row in rows]


async def version(conn: asyncpg.Connection, regions: Sequence[str]) -> tuple:
    """Changes whenever an alert of ``regions`` is raised, claimed, resolved or updated: what
    a worklist open in a browser compares to know it is out of date."""
    rows = await conn.fetch(
        """
        SELECT count(*) AS alerts,
               sum(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS open,
               sum(CASE WHEN status = 'claimed' THEN 1 ELSE 0 END) AS claimed,
               max(updated_at) AS changed
        FROM escalations WHERE region = ANY($1::TEXT[])
        """,
        list(regions),
    )
    row = rows[0]
    return (row["alerts"], row["open"] or 0, row["claimed"] or 0, row["changed"])
