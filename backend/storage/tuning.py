"""PostgreSQL-only storage settings that keep the morning peak free of serialization conflicts.

Under PostgreSQL's serializable isolation (SSI), a read through an index locks the index
pages it visited, and a write that adds an entry to such a page conflicts with the reader. An
UPDATE adds index entries unless it can keep the new row version on the row's own page (a
"HOT" update). Each round fills the prompts table densely, and every prompt is updated by its
answer within the hour, step by step for the whole questionnaire: with no room left on the
page, each answer added index entries to pages that other people's answers had just read, and
the morning's answers conflicted with each other. Half of each page is kept free for them
(and for activation codes, each used once).

CockroachDB and YugabyteDB have neither such pages nor fillfactor (their serializable
isolation tracks the keys read, not pages): nothing is done there.
"""

from __future__ import annotations

import logging

from backend.storage.database import Database

log = logging.getLogger(__name__)

# Percent of each page filled by inserts: prompts are updated step by step by their answer,
# activation codes once, when the person activates (thousands at once after a mass
# registration).
FILLFACTOR = {"prompts": 50, "activation_codes": 50}


async def tune_postgresql(db: Database) -> list[str]:
    """Apply the settings to each table (each partition, once partitioned) that lacks them;
    return what was changed. Idempotent, and cheap when there is nothing to do."""
    if db.engine != "postgresql":
        return []
    changed = []
    async with db.pool.acquire() as conn:
        for table, fill in FILLFACTOR.items():
            rows = await conn.fetch(
                """
                SELECT c.oid::REGCLASS::TEXT AS name FROM pg_class c
                WHERE c.relkind = 'r'
                  AND (c.oid = to_regclass($1) OR c.oid IN (
                        SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass($1)))
                  AND NOT coalesce(c.reloptions, '{}') @> ARRAY[$2]
                """,
                table,
                f"fillfactor={fill}",
            )
            for row in rows:
                # Names come from the catalogue (regclass output is quoted where needed).
                await conn.execute(f"ALTER TABLE {row['name']} SET (fillfactor = {fill})")
                changed.append(f"{row['name']}: fillfactor {fill}")
    for change in changed:
        log.info("storage tuned: %s", change)
    return changed
