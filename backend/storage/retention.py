"""Deleting delivery records that outlive their use: finished outbox rows (they carry chat ids
and payloads such as questionnaire drafts with notes and alert summaries) and the record of
processed Telegram updates (whose keys carry chat ids). Batched: a large backlog never holds
locks for long."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def purge_finished_outbox(
    conn: asyncpg.Connection, region: str, finished_before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` sent or failed messages of ``region`` finished before the time.

    ``created_at`` is never later than the finishing time, so its index narrows the search.
    """
    status = await conn.execute(
        """
        DELETE FROM outbox
        WHERE region = $1 AND id IN (
            SELECT id FROM outbox
            WHERE region = $1 AND created_at < $2
              AND coalesce(sent_at, failed_at) < $2
            LIMIT $3)
        """,
        region,
        finished_before,
        limit,
    )
    return int(status.split()[-1])


async def purge_processed_updates(
    conn: asyncpg.Connection, processed_before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` records of updates processed before the time. A plain delete by
    age: whatever the key looks like, Telegram does not redeliver an update days later."""
    status = await conn.execute(
        """
        DELETE FROM processed_updates
        WHERE update_key IN (
            SELECT update_key FROM processed_updates WHERE processed_at < $1 LIMIT $2)
        """,
        processed_before,
        limit,
    )
    return int(status.split()[-1])
