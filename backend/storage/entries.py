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


def _entry(row: asyncpg.Record) -> Entry:
    return Entry(
        id=row["id"],
        case_id=row["case_id"],
        local_date=row["local_date"],
        recorded_at=row["recorded_at"],
        feeling_well=row["feeling_well"],
        symptoms=tuple(json.loads(row["symptoms"])),
        temperature_c=row["temperature_c"],
    )


async def insert_entry(
    conn: asyncpg.Connection,
    region: str,
    case_id: UUID,
    prompt_id: UUID,
    local_date: date,
    answer: Answer,
    recorded_at: datetime,
) -> UUID | None:
    """Store the answer to a prompt; None if that prompt already has an entry."""
    rows = await conn.fetch(
        """
        INSERT INTO diary_entries (region, case_id, prompt_id, local_date, recorded_at,
                                   feeling_well, symptoms, temperature_c)
        VALUES ($1, $2, $3, $4, $5, $6, $7::JSONB, $8)
        ON CONFLICT (region, case_id, prompt_id) DO NOTHING
        RETURNING id
        """,
        region,
        case_id,
        prompt_id,
        local_date,
        recorded_at,
        answer.feeling_well,
        json.dumps(list(answer.symptoms)),
        answer.temperature_c,
    )
    return rows[0]["id"] if rows else None


async def find_for_case(conn: asyncpg.Connection, region: str, case_id: UUID) -> list[Entry]:
    rows = await conn.fetch(
        """
        SELECT id, case_id, local_date, recorded_at, feeling_well, symptoms, temperature_c
        FROM diary_entries WHERE region = $1 AND case_id = $2
        ORDER BY recorded_at, id
        """,
        region,
        case_id,
    )
    return [_entry(row) for row in rows]
