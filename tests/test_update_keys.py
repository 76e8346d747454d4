"""Recognising a redelivered Telegram update, and forgetting processed updates after days."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from backend.domain.clock import FixedClock
from backend.services.context import ServiceContext
from backend.services.retention import KEEP_PROCESSED_UPDATES, prune_processed_updates
from backend.storage.database import Database
from backend.storage.updates import claim_update
from bot.handlers import update_key


def press(update_id: int, query_id: str, data: str) -> dict:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": {"id": 7, "is_bot": False, "first_name": "A"},
            "chat_instance": "9",
            "data": data,
        },
    }


def test_a_redelivery_has_the_same_key_and_new_content_a_new_one() -> None:
    first = update_key(Update.de_json(press(1, "1", "q:a"), None))
    again = update_key(Update.de_json(press(1, "1", "q:a"), None))
    other = update_key(Update.de_json(press(1, "1", "q:b"), None))
    assert first == again
    assert first != other
    assert first.startswith("1:") and other.startswith("1:")


async def test_processed_updates_are_forgotten_after_a_few_days(
    ctx: ServiceContext, db: Database, clock: FixedClock
) -> None:
    """Ages on the database clock, which recorded them: the service's clock plays no part
    (moved a year on here, it forgets nothing more)."""
    clock.advance(timedelta(days=365))
    await db.transaction(claim_update, "prune:old")
    await db.transaction(claim_update, "prune:recent")
    old = KEEP_PROCESSED_UPDATES + timedelta(minutes=1)
    recent = KEEP_PROCESSED_UPDATES - timedelta(minutes=1)
    for key, age in (("prune:old", old), ("prune:recent", recent)):
        await db.fetch(
            "UPDATE processed_updates SET processed_at = now() - $2::INTERVAL"
            " WHERE update_key = $1",
            key,
            age,
        )
    assert await prune_processed_updates(ctx) >= 1
    rows = await db.fetch(
        "SELECT update_key FROM processed_updates WHERE update_key LIKE 'prune:%'"
    )
    assert [row["update_key"] for row in rows] == ["prune:recent"]
    assert not await db.transaction(claim_update, "prune:recent")  # still a repeat


def test_the_key_is_hashed_from_the_update_as_it_arrived() -> None:
    """bot.ingest keys an update by what Telegram sent (no round trip through PTB's to_dict):
    the same for a redelivery, new for new content, and what the handlers see."""
    from bot.handlers import arrived_as, key_of

    data = press(7, "1", "q:a")
    assert key_of(data) == key_of(press(7, "1", "q:a"))
    assert key_of(data) != key_of(press(7, "1", "q:b"))
    assert key_of(data).startswith("7:")
    with arrived_as(data):
        assert update_key(Update.de_json(data, None)) == key_of(data)
        assert update_key(Update.de_json(press(8, "1", "q:a"), None)) != key_of(data)
