"""Rounds (one sending of the daily prompt in a region) and prompts (one question to a case).

A prompt also carries the half-answered questionnaire (``step`` + ``draft``), so a
conversation survives restarts and any instance can continue it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from backend.domain.messages import Kind, Priority


@dataclass(frozen=True)
class Prompt:
    region: str
    id: UUID
    case_id: UUID
    chat_id: int
    local_date: date
    step: str
    draft: dict[str, Any]
    answered_at: datetime | None
    superseded_at: datetime | None

    @property
    def open(self) -> bool:
        return self.answered_at is None and self.superseded_at is None


_COLUMNS = "region, id, case_id, chat_id, local_date, step, draft, answered_at, superseded_at"


def _prompt(row: asyncpg.Record) -> Prompt:
    return Prompt(
        region=row["region"],
        id=row["id"],
        case_id=row["case_id"],
        chat_id=row["chat_id"],
        local_date=row["local_date"],
        step=row["step"],
        draft=json.loads(row["draft"]),
        answered_at=row["answered_at"],
        superseded_at=row["superseded_at"],
    )


async def insert_round(
    conn: asyncpg.Connection, region: str, local_date: date, slot: str, origin: str
) -> UUID | None:
    """Create the round, or return None if this (region, date, slot) was already created."""
    rows = await conn.fetch(
        """
        INSERT INTO rounds (region, local_date, slot, origin) VALUES ($1, $2, $3, $4)
        ON CONFLICT (region, local_date, slot) DO NOTHING
        RETURNING id
        """,
        region,
        local_date,
        slot,
        origin,
    )
    return rows[0]["id"] if rows else None


async def expand_round(
    conn: asyncpg.Connection, region: str, round_id: UUID, local_date: date
) -> int:
    """Create a prompt and its outbox message for every active, bound case; return how many.

    Set-based (three statements whatever the number of cases): a round of a large region must
    not be a Python loop. Earlier open prompts of the region close: late answers are accepted
    only until the next prompt.
    """
    await conn.execute(
        "UPDATE prompts SET superseded_at = now() WHERE region = $1 AND superseded_at IS NULL",
        region,
    )
    inserted = await conn.execute(
        """
        INSERT INTO prompts (region, round_id, case_id, chat_id, local_date)
        SELECT region, $2, id, chat_id, $3
        FROM cases
        WHERE region = $1 AND status = 'active' AND chat_id IS NOT NULL
          AND quarantine_start <= $3 AND quarantine_end >= $3
        """,
        region,
        round_id,
        local_date,
    )
    await conn.execute(
        """
        INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload)
        SELECT p.region, 'prompt:' || p.id::TEXT, $3, $4, p.chat_id, c.language,
               jsonb_build_object(
                   'prompt', p.id::TEXT,
                   'day', (p.local_date - c.quarantine_start) + 1,
                   'days', (c.quarantine_end - c.quarantine_start) + 1,
                   'date', p.local_date::TEXT)
        FROM prompts p JOIN cases c ON c.region = p.region AND c.id = p.case_id
        WHERE p.region = $1 AND p.round_id = $2
        ON CONFLICT (region, dedup_key) DO NOTHING
        """,
        region,
        round_id,
        int(Priority.PROMPT),
        Kind.PROMPT.value,
    )
    return int(inserted.split()[-1])


async def get_for_chat(
    conn: asyncpg.Connection, prompt_id: UUID, cases: Sequence[tuple[str, UUID]]
) -> Prompt | None:
    """The prompt if it belongs to one of ``cases`` (region, case id) bound to the asking chat.

    Callback data comes from the client; checking ownership here means a forged prompt id of
    another person finds nothing.
    """
    if not cases:
        return None
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM prompts
        WHERE region = ANY($1::TEXT[]) AND id = $2 AND case_id = ANY($3::UUID[])
        """,
        sorted({region for region, _ in cases}),
        prompt_id,
        [case_id for _, case_id in cases],
    )
    return _prompt(rows[0]) if rows else None


async def find_open_for_chat(conn: asyncpg.Connection, chat_id: int) -> list[Prompt]:
    """Open prompts of a chat, the most recently touched first."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM prompts
        WHERE chat_id = $1 AND superseded_at IS NULL AND answered_at IS NULL
        ORDER BY updated_at DESC, id
        """,
        chat_id,
    )
    return [_prompt(row) for row in rows]


async def save_draft(
    conn: asyncpg.Connection,
    prompt: Prompt,
    step: str,
    draft: dict[str, Any],
    answered_at: datetime | None = None,
) -> None:
    await conn.execute(
        """
        UPDATE prompts SET step = $3, draft = $4::JSONB, answered_at = $5, updated_at = now()
        WHERE region = $1 AND id = $2
        """,
        prompt.region,
        prompt.id,
        step,
        json.dumps(draft),
        answered_at,
    )
