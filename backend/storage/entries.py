"""Diary entries: one per answered prompt."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from backend.domain.questionnaire import Answer


@dataclass(frozen=True)
class Entry:
    id: UUID
    case_id: UUID
    local_date: date
    recorded_at: datetime
    feeling_well: bool
    symptoms: tuple[str, ...]
    temperature_c: Decimal | None
    trend: str | None
    note: str | None
    corrected_at: datetime | None


_COLUMNS = """
    id, case_id, local_date, recorded_at, feeling_well, symptoms, temperature_c, trend, note,
    corrected_at
"""


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(
        id=row["id"],
        case_id=row["case_id"],
        local_date=row["local_date"],
        recorded_at=row["recorded_at"],
        feeling_well=row["feeling_well"],
        symptoms=tuple(json.loads(row["symptoms"])),
        temperature_c=row["temperature_c"],
        trend=row["trend"],
        note=row["note"],
        corrected_at=row["corrected_at"],
    )


async def save_entry(
    conn: asyncpg.Connection,
    region: str,
    case_id: UUID,
    prompt_id: UUID,
    local_date: date,
    answer: Answer,
    now: datetime,
) -> UUID:
    """Store the answer to a prompt; a second answer to the same prompt is a correction."""
    rows = await conn.fetch(
        """
        INSERT INTO diary_entries (region, case_id, prompt_id, local_date, recorded_at,
                                   feeling_well, symptoms, temperature_c, trend, note)
        VALUES ($1, $2, $3, $4, $5, $6, $7::JSONB, $8, $9, $10)
        ON CONFLICT (region, case_id, prompt_id) DO UPDATE SET
            feeling_well = excluded.feeling_well, symptoms = excluded.symptoms,
            temperature_c = excluded.temperature_c, trend = excluded.trend,
            note = excluded.note, corrected_at = excluded.recorded_at
        RETURNING id
        """,
        region,
        case_id,
        prompt_id,
        local_date,
        now,
        answer.feeling_well,
        json.dumps(list(answer.symptoms)),
        answer.temperature_c,
        answer.trend,
        answer.note,
    )
    return rows[0]["id"]


async def get(conn: asyncpg.Connection, region: str, entry_id: UUID) -> Entry | None:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM diary_entries WHERE region = $1 AND id = $2", region, entry_id
    )
    return _entry(rows[0]) if rows else None


async def latest_for_case(
    conn: asyncpg.Connection, region: str, case_id: UUID, local_date: date
) -> Entry | None:
    """The case's entry for ``local_date`` (the newest, if several prompts that day)."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM diary_entries
        WHERE region = $1 AND case_id = $2 AND local_date = $3
        ORDER BY recorded_at DESC LIMIT 1
        """,
        region,
        case_id,
        local_date,
    )
    return _entry(rows[0]) if rows else None


async def find_for_case(conn: asyncpg.Connection, region: str, case_id: UUID) -> list[Entry]:
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM diary_entries WHERE region = $1 AND case_id = $2
        ORDER BY local_date, recorded_at, id
        """,
        region,
        case_id,
    )
    return [_entry(row) for row in rows]
