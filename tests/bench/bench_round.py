"""Benchmark 1: round expansion for 1,000,000 active cases in one region, against plain
INSERT ... SELECT statements of the same rows on the same database (aim: ratio at most 2).

The expansion writes a prompt and an outbox message per case (one statement). Two baselines:
- ``plain outbox``: one plain INSERT ... SELECT of the outbox rows alone;
- ``plain both``: plain INSERT ... SELECTs of exactly the rows the expansion writes (prompts and
  outbox rows), without the expansion's logic (dates, JSON payload, spreading).
Each is measured three times on emptied tables; the median counts.
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
        conn, REGION, date.today(), "bench", "staff", datetime.now(UTC)
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


async def main() -> dict:
    db = await fresh_database()
    try:
        await insert_active_cases(db, REGION, CASES, first_chat=1_000_000_000)
        times: dict[str, list[float]] = {"expansion": [], "plain_outbox": [], "plain_both": []}
        for _ in range(REPEAT):
            for name, body in (
                ("expansion", _expansion),
                ("plain_outbox", _plain_outbox),
                ("plain_both", _plain_both),
            ):
                await _empty(db)
                times[name].append(await timed(lambda body=body: db.transaction(body)))
        result = {"cases": CASES, **{f"{name}_s": median(t) for name, t in times.items()}}
        result["ratio_vs_plain_outbox"] = result["expansion_s"] / result["plain_outbox_s"]
        result["ratio_vs_plain_both"] = result["expansion_s"] / result["plain_both_s"]
        result["met"] = result["ratio_vs_plain_outbox"] <= 2
        return result
    finally:
        await drop_database(db)


if __name__ == "__main__":
    import asyncio
    import json

    print(json.dumps(asyncio.run(main()), indent=2))
