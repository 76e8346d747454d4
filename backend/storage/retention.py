"""Deleting delivery records that outlive their use: finished outbox rows (they carry chat ids
and payloads such as questionnaire drafts with notes and alert summaries). Batched: a large
backlog never holds locks for long. (Processed updates are pruned in ``storage.updates``.)"""

from __future__ import annotations

from datetime import timedelta

import asyncpg


async def purge_finished_outbox(
    conn: asyncpg.Connection, region: str, finished_for: timedelta, limit: int
) -> int:
    """Delete up to ``limit`` sent or failed messages of ``region`` finished ``finished_for``
    ago or longer.

    On the database clock: the sender writes ``sent_at`` and ``failed_at`` with ``now()`` (the
    clock every sending instance shares), so the age is measured on the same clock.
    ``created_at`` is never later than the finishing time, so its index narrows the search.
    """
    status = await conn.execute(
        """
        DELETE FROM outbox
        WHERE region = $1 AND id IN (
            SELECT id FROM outbox
            WHERE region = $1 AND created_at < now() - $2::INTERVAL
              AND coalesce(sent_at, failed_at) < now() - $2::INTERVAL
            LIMIT $3)
        """,
        region,
        finished_for,
        limit,
    )
    return int(status.split()[-1])
