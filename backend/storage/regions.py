"""The regions table mirrors the regions file; other tables reference it."""

from __future__ import annotations

import json
from collections.abc import Iterable

import asyncpg

from backend.domain.regions import Region


async def upsert_regions(conn: asyncpg.Connection, regions: Iterable[Region]) -> None:
    for region in regions:
        settings = {
            "languages": list(region.languages),
            "prompt_times": [t.strftime("%H:%M") for t in region.prompt_times],
            "authority_chat_id": region.authority_chat_id,
        }
        await conn.execute(
            """
            INSERT INTO regions (id, name, timezone, default_language, settings, updated_at)
            VALUES ($1, $2, $3, $4, $5::JSONB, now())
            ON CONFLICT (id) DO UPDATE SET
                name = excluded.name,
                timezone = excluded.timezone,
                default_language = excluded.default_language,
                settings = excluded.settings,
                updated_at = excluded.updated_at
            """,
            region.id,
            region.name,
            region.timezone,
            region.default_language,
            json.dumps(settings),
        )
