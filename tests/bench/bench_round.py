"""Benchmark 1: round expansion for 1,000,000 active cases in one region, against plain
INSERT ... SELECT statements on the same database in the same run (aim: ratio at most 1.2).

The expansion writes a prompt and an outbox message per case. Baselines, each a single plain
INSERT ... SELECT without the expansion's logic (ids, dates, JSON payload, spreading):
- ``same rows`` (the aim's yardstick): exactly the outbox rows the expansion wrote, copied
  from a table holding them in the cases' order, which is the order a plain INSERT ... SELECT
  over the cases writes them in;
- ``same rows, key order``: the same copy in the expansion's own insertion order (by id): what
  writing those rows costs at best, for the record;
- ``plain outbox``: the earlier yardstick, outbox rows with an empty payload and a generated id;
- ``plain both``: that plus plain prompts rows (as many as the expansion writes).
Each is measured three times on emptied tables, in turn; the median counts.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from backend.domain.messages import Kind, Priority
from backend.storage import rounds as round_store
from tests.bench.common import drop_database, fresh_database, insert_active_cases, median, timed

REGION = "de-koeln"
CASES = int(os.environ.get("BENCH_ROUND_CASES", 1_000_000))
REPEAT = 3

PLAIN_OUTBOX = """
INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload)
SELECT region, 'plain:' || id::TEXT, $2, $3, chat_id, language, '{}'::JSONB
FROM cases WHERE region = $1
"""
OUTBOX_COLUMNS = (
    "region, id, dedup_key, priority, kind, chat_id, language, payload, seq, created_at, not_before"
)
COPY_SAME_ROWS = f"INSERT INTO outbox ({OUTBOX_COLUMNS}) SELECT {OUTBOX_COLUMNS} FROM same_rows"
COPY_KEY_ORDER = f"INSERT INTO outbox ({OUTBOX_COLUMNS}) SELECT {OUTBOX_COLUMNS} FROM key_order"
PLAIN_PROMPTS = """
INSERT INTO prompts (region, round_id, case_id, chat_id, local_date)
SELECT region, $2, id, chat_id, current_date FROM cases WHERE region = $1
"""


async def _empty(db) -> None:
    async with db.pool.acquire() as conn:
        await conn.execute("TRUNCATE prompts, outbox, rounds")
        await conn.execute("CHECKPOINT")


async def _expansion(conn) -> None:
    round_id = await round_store.insert_round(
        conn, REGION, date.today(), f"bench-{uuid4()}", "staff", datetime.now(UTC)
    )
    count = await round_store.expand_round(
        conn, REGION, round_id, date.today(), timedelta(seconds=1 / 30)
    )
    assert count == CASES, count


async def _plain_outbox(conn) -> None:
    await conn.execute(PLAIN_OUTBOX, REGION, int(Priority.PROMPT), Kind.PROMPT.value)


async def _plain_both(conn) -> None:
    await conn.execute(PLAIN_PROMPTS, REGION, uuid4())
    await _plain_outbox(conn)


async def _keep_the_rows(db) -> None:
    """Tables holding the outbox rows an expansion wrote: in the cases' order and in the
    expansion's (by id). Not timed."""
    await _empty(db)
    await db.transaction(_expansion)
    async with db.pool.acquire() as conn:
        await conn.execute(
            f"""
            CREATE TABLE same_rows AS
            SELECT o.{OUTBOX_COLUMNS.replace(", ", ", o.")}
            FROM cases c
            JOIN prompts p ON p.region = c.region AND p.case_id = c.id
            JOIN outbox o ON o.region = p.region AND o.dedup_key = 'prompt:' || p.id::TEXT
            ORDER BY c.ctid
            """
        )
        await conn.execute(
            f"CREATE TABLE key_order AS SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY ctid"
        )
        await conn.execute("VACUUM ANALYZE same_rows, key_order")
        rows = await conn.fetch("SELECT count(*) AS n FROM same_rows")
        assert rows[0]["n"] == CASES, rows


async def main() -> dict:
    db = await fresh_database()
    try:
        await insert_active_cases(db, REGION, CASES, first_chat=1_000_000_000)
        await _keep_the_rows(db)
        bodies = {
            "expansion": _expansion,
            "same_rows": lambda conn: conn.execute(COPY_SAME_ROWS),
            "same_rows_key_order": lambda conn: conn.execute(COPY_KEY_ORDER),
            "plain_outbox": _plain_outbox,
            "plain_both": _plain_both,
        }
        times: dict[str, list[float]] = {name: [] for name in bodies}
        for _ in range(REPEAT):
            for name, body in bodies.items():
                await _empty(db)
                times[name].append(await timed(lambda body=body: db.transaction(body)))
        result = {"cases": CASES, **{f"{name}_s": median(t) for name, t in times.items()}}
        result["runs"] = {name: [round(t, 2) for t in values] for name, values in times.items()}
        for name in bodies:
            if name != "expansion":
                result[f"ratio_vs_{name}"] = result["expansion_s"] / result[f"{name}_s"]
        result["met"] = result["ratio_vs_same_rows"] <= 1.2
        return result
    finally:
        await drop_database(db)


if __name__ == "__main__":
    import asyncio
    import json

    print(json.dumps(asyncio.run(main()), indent=2))
