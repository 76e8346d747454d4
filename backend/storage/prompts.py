"""Prompts: one question to one case in one round, with its half-answered questionnaire.

A prompt is open while it is unanswered and the newest of its case; a newer round closes it
without an UPDATE (see ``latest`` below), so a round stays a pure insert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg


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
    latest: bool  # no newer prompt for this case

    @property
    def open(self) -> bool:
        return self.answered_at is None and self.latest


_SELECT = """
    SELECT p.region, p.id, p.case_id, p.chat_id, p.local_date, p.step, p.draft, p.answered_at,
           p.updated_at,
           NOT EXISTS (SELECT 1 FROM prompts n
                       WHERE n.region = p.region AND n.case_id = p.case_id
                         AND n.created_at > p.created_at) AS latest
    FROM prompts p
"""


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
        latest=row["latest"],
    )


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
        _SELECT + "WHERE p.region = ANY($1::TEXT[]) AND p.id = $2 AND p.case_id = ANY($3::UUID[])",
        sorted({region for region, _ in cases}),
        prompt_id,
        [case_id for _, case_id in cases],
    )
    return _prompt(rows[0]) if rows else None


async def find_latest_for_cases(
    conn: asyncpg.Connection, cases: Sequence[tuple[str, UUID]]
) -> list[Prompt]:
    """The newest prompt of each case (answered or not), the most recently touched first."""
    found = []
    for region, case_id in cases:
        rows = await conn.fetch(
            _SELECT + "WHERE p.region = $1 AND p.case_id = $2 ORDER BY p.created_at DESC LIMIT 1",
            region,
            case_id,
        )
        found.extend((row["updated_at"], _prompt(row)) for row in rows)
    return [prompt for _, prompt in sorted(found, key=lambda item: item[0], reverse=True)]


async def save_draft(
    conn: asyncpg.Connection,
    prompt: Prompt,
    step: str,
    draft: dict[str, Any],
    answered_at: datetime | None = None,
) -> None:
    await conn.execute(
        """
        UPDATE prompts SET step = $4, draft = $5::JSONB, answered_at = $6, updated_at = now()
        WHERE region = $1 AND case_id = $2 AND id = $3
        """,
        prompt.region,
        prompt.case_id,
        prompt.id,
        step,
        json.dumps(draft),
        answered_at,
    )
