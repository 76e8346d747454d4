"""Staff broadcasts: each person gets the notice once, in their language (else the region's),
within the staff member's regions; /stop and blocked chats are respected; progress and cancel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from backend.domain.cases import NewCase
from backend.domain.errors import NotFound
from backend.server import RUNNING
from backend.services.broadcasts import cancel_broadcast, create_broadcast, get_broadcast
from backend.services.context import ServiceContext
from backend.services.staff import authenticate, create_staff
from backend.storage import broadcasts as broadcast_store
from backend.storage import cases as case_store
from backend.storage import outbox as outbox_store
from backend.storage.database import Database
from backend.storage.outbox import BatchResult
from bot.sandbox import SandboxBotApi

KOELN = "de-koeln"  # languages de (default), en, tr, pl


@pytest.fixture
async def tokens(ctx: ServiceContext) -> dict[str, str]:
    made = {
        "koeln": await create_staff(ctx, "K", "staff", [KOELN]),
        "viewer": await create_staff(ctx, "V", "viewer", [KOELN]),
        "berlin": await create_staff(ctx, "B", "staff", ["de-berlin-mitte"]),
    }
    return {name: created.token for name, created in made.items()}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def monitored(
    ctx: ServiceContext,
    bot_api: SandboxBotApi | None,
    chat_id: int,
    language: str,
    kind: str = "contact",
    region: str = KOELN,
    stopped: bool = False,
) -> uuid.UUID:
    """An activated case (registration and activation are tested elsewhere)."""
    if bot_api:
        bot_api.user(chat_id, f"P{chat_id}", language)
    new = NewCase(region, kind, ctx.clock.now().date(), ctx.clock.now().date(), language)

    async def create(conn):
        case = await case_store.insert_case(conn, new, created_by=None)
        await case_store.bind_chat(conn, region, case.id, chat_id, ctx.clock.now())
        if stopped:
            await conn.execute("UPDATE cases SET stopped_at = now() WHERE id = $1", case.id)
        return case.id

    return await ctx.db.transaction(create)


@pytest.fixture(autouse=True)
async def fresh_region(db: Database) -> AsyncIterator[None]:
    """Each test starts without monitored cases in Köln."""
    yield
    await db.fetch("UPDATE cases SET status = 'closed' WHERE region = $1", KOELN)


async def test_everyone_once_in_their_language(
    service: TestClient, bot_api: SandboxBotApi, ctx: ServiceContext, tokens: dict[str, str]
) -> None:
    await monitored(ctx, bot_api, 8001, "de")
    await monitored(ctx, bot_api, 8002, "en")
    await monitored(ctx, bot_api, 8003, "tr")  # no Turkish text: gets the region's German
    await monitored(ctx, bot_api, 8004, "en")
    await monitored(ctx, bot_api, 8004, "en")  # a household: one chat, two cases, one message
    await monitored(ctx, bot_api, 8005, "de", stopped=True)  # used /stop
    await monitored(ctx, bot_api, 8006, "de", region="de-berlin-mitte")  # another region

    response = await service.post(
        "/api/v1/broadcasts",
        json={
            "regions": [KOELN],
            "texts": {"de": "Neue Testzentren ab Montag.", "en": "New test centres from Monday."},
        },
        headers=auth(tokens["koeln"]),
    )
    assert response.status == 202, await response.text()
    created = await response.json()
    assert created["total"] == 4 and response.headers["Location"].endswith(created["id"])

    texts = {}
    for chat_id in (8001, 8002, 8003, 8004):
        message = await bot_api.user(chat_id).wait_for_message()
        texts[chat_id] = message["text"]
    assert "Neue Testzentren" in texts[8001] and "Neue Testzentren" in texts[8003]
    assert "New test centres" in texts[8002] and "New test centres" in texts[8004]
    assert texts[8002].startswith("📢")
    assert bot_api.user(8005).messages == [] and bot_api.user(8006).messages == []

    await service.app[RUNNING].sender.drained()
    response = await service.get(
        f"/api/v1/broadcasts/{created['id']}", headers=auth(tokens["koeln"])
    )
    progress = await response.json()
    assert (progress["total"], progress["sent"], progress["pending"]) == (4, 4, 0)
    assert progress["finished_at"] and progress["started_at"] and progress["failed"] == 0


async def test_filters_urgency_and_blocked_chats(
    service: TestClient,
    bot_api: SandboxBotApi,
    ctx: ServiceContext,
    tokens: dict[str, str],
    db: Database,
) -> None:
    await monitored(ctx, bot_api, 8101, "de", kind="index")
    await monitored(ctx, bot_api, 8102, "de", kind="contact")
    await monitored(ctx, bot_api, 8103, "de", kind="index", stopped=True)
    blocked_case = await monitored(ctx, bot_api, 8104, "de", kind="index")
    bot_api.block_bot(bot_api.user(8104))

    response = await service.post(
        "/api/v1/broadcasts",
        json={
            "regions": [KOELN],
            "texts": {"de": "Dringend"},
            "filter": {"kind": "index"},
            "urgent": True,
        },
        headers=auth(tokens["koeln"]),
    )
    created = await response.json()
    assert created["total"] == 3  # index cases, the stopped one included (urgent)
    for chat_id in (8101, 8103):
        assert "Dringend" in (await bot_api.user(chat_id).wait_for_message())["text"]
    assert bot_api.user(8102).messages == []

    # The blocked chat: 403 once, marked unreachable, never tried again.
    await service.app[RUNNING].sender.drained()
    response = await service.get(
        f"/api/v1/broadcasts/{created['id']}", headers=auth(tokens["koeln"])
    )
    progress = await response.json()
    assert progress["blocked"] == 1 and progress["sent"] == 2
    rows = await db.fetch("SELECT unreachable_at FROM cases WHERE id = $1", blocked_case)
    assert rows[0]["unreachable_at"] is not None
    response = await service.post(
        "/api/v1/broadcasts",
        json={"regions": [KOELN], "texts": {"de": "Noch einmal"}},
        headers=auth(tokens["koeln"]),
    )
    assert (await response.json())["total"] == 2  # 8101 and 8102; not the blocked, not stopped
    sends_to_blocked = [
        p for m, p in bot_api.calls if m == "sendMessage" and str(p.get("chat_id")) == "8104"
    ]
    assert len(sends_to_blocked) == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"regions": [KOELN], "texts": {"en": "Only English"}}, 422, "texts"),  # no German
        ({"regions": [KOELN], "texts": {"de": "  "}}, 422, "texts.de"),
        ({"regions": [KOELN], "texts": {"de": "x" * 3501}}, 422, "texts.de"),
        ({"regions": [KOELN], "texts": {"de": "x", "xx": "y"}}, 422, "texts.xx"),
        ({"regions": [], "texts": {"de": "x"}}, 422, "regions"),
        ({"regions": ["de-berlin-mitte"], "texts": {"de": "x"}}, 422, "regions"),  # not theirs
        ({"regions": ["atlantis"], "texts": {"de": "x"}}, 422, "regions"),
        ({"regions": [KOELN], "texts": {"de": "x"}, "filter": {"kind": "cat"}}, 422, "filter.kind"),
        ({"regions": [KOELN]}, 422, "texts"),
    ],
)
async def test_invalid_broadcasts_name_the_field(
    service: TestClient, tokens: dict[str, str], body: dict, status: int, field: str
) -> None:
    response = await service.post("/api/v1/broadcasts", json=body, headers=auth(tokens["koeln"]))
    assert response.status == status, await response.text()
    problem = await response.json()
    assert field in [e["field"] for e in problem.get("errors", [])] or field in problem["detail"]


async def test_who_may_see_and_send(service: TestClient, tokens: dict[str, str]) -> None:
    body = {"regions": [KOELN], "texts": {"de": "Hallo"}}
    response = await service.post("/api/v1/broadcasts", json=body, headers=auth(tokens["viewer"]))
    assert response.status == 403
    response = await service.post("/api/v1/broadcasts", json=body, headers=auth(tokens["koeln"]))
    broadcast_id = (await response.json())["id"]
    response = await service.get(
        f"/api/v1/broadcasts/{broadcast_id}", headers=auth(tokens["viewer"])
    )
    assert response.status == 200
    for path in (
        f"/api/v1/broadcasts/{broadcast_id}",
        f"/api/v1/broadcasts/{uuid.uuid4()}",
        "/api/v1/broadcasts/x",
    ):
        response = await service.get(path, headers=auth(tokens["berlin"]))
        assert response.status == 404
    response = await service.post(
        f"/api/v1/broadcasts/{broadcast_id}/cancel", headers=auth(tokens["berlin"])
    )
    assert response.status == 404
    response = await service.post(
        f"/api/v1/broadcasts/{broadcast_id}/cancel", headers=auth(tokens["viewer"])
    )
    assert response.status == 403


async def test_cancel_stops_what_is_not_sent(ctx: ServiceContext, tokens: dict[str, str]) -> None:
    """Without a sender running, nothing goes out: cancel catches every delivery."""
    for chat_id in range(8201, 8211):
        await monitored(ctx, None, chat_id, "de")
    staff = await authenticate(ctx, tokens["koeln"])
    status = await create_broadcast(ctx, staff, [KOELN], {"de": "Abgesagt"})
    assert status.progress.pending == 10
    status = await cancel_broadcast(ctx, staff, status.broadcast.id)
    assert (status.progress.cancelled, status.progress.pending) == (10, 0)
    assert status.broadcast.cancelled_at is not None


async def test_cancel_holds_for_deliveries_on_their_way(
    ctx: ServiceContext, tokens: dict[str, str]
) -> None:
    """Deliveries claimed by the sender when staff cancel: one that Telegram took counts as
    sent; one the sender would have retried (a 429, pacing) stays cancelled."""
    for chat_id in range(8301, 8305):
        await monitored(ctx, None, chat_id, "de")
    staff = await authenticate(ctx, tokens["koeln"])
    status = await create_broadcast(ctx, staff, [KOELN], {"de": "Abgesagt"})
    claimed = await ctx.db.transaction(
        outbox_store.claim_due, "sender-under-test", 10, timedelta(minutes=1)
    )
    ours = [row for row in claimed if row.kind == "broadcast"]
    assert len(ours) == 4
    status = await cancel_broadcast(ctx, staff, status.broadcast.id)
    assert status.progress.pending == 0
    result = BatchResult(
        sent=[(ours[0], 77)], later=[(row, 1.0, "429 Too Many Requests", True) for row in ours[1:]]
    )
    await ctx.db.transaction(outbox_store.finish_batch, result)
    status = await cancel_broadcast(ctx, staff, status.broadcast.id)  # idempotent
    progress = status.progress
    assert (progress.sent, progress.cancelled, progress.pending) == (1, 3, 0)
    due = await ctx.db.transaction(outbox_store.claim_due, "sender-under-test", 10, timedelta(0))
    assert not [row for row in due if row.kind == "broadcast"]


async def test_stop_withdraws_what_is_queued_for_the_chat(
    ctx: ServiceContext, tokens: dict[str, str], bot_api: SandboxBotApi
) -> None:
    """After /stop the person gets no prompt or ordinary notice that was still queued; an
    urgent notice still reaches them."""
    await monitored(ctx, bot_api, 8401, "de")
    staff = await authenticate(ctx, tokens["koeln"])
    ordinary = await create_broadcast(ctx, staff, [KOELN], {"de": "Hinweis"})
    urgent = await create_broadcast(ctx, staff, [KOELN], {"de": "Dringend"}, urgent=True)

    async def stop(conn):
        await case_store.set_stopped(conn, 8401, ctx.clock.now())
        return await outbox_store.withdraw_for_stopped_chat(conn, 8401)

    assert await ctx.db.transaction(stop) == 1
    rows = await ctx.db.fetch(
        "SELECT broadcast_id, failure FROM outbox WHERE chat_id = 8401 AND kind = 'broadcast'"
    )
    failures = {row["broadcast_id"]: row["failure"] for row in rows}
    assert failures == {ordinary.broadcast.id: "stopped", urgent.broadcast.id: None}


async def test_queries_are_scoped_to_the_callers_regions_in_sql(
    ctx: ServiceContext, tokens: dict[str, str]
) -> None:
    """The storage layer itself does not find, count or cancel another region's broadcast;
    an admin (every region) still does."""
    await monitored(ctx, None, 8501, "de")
    koeln = await authenticate(ctx, tokens["koeln"])
    status = await create_broadcast(ctx, koeln, [KOELN], {"de": "Nur Köln"})
    broadcast_id = status.broadcast.id
    berlin = ["de-berlin-mitte"]

    async def as_berlin(conn):
        found = await broadcast_store.get(conn, berlin, broadcast_id)
        counted = await broadcast_store.progress(conn, berlin, broadcast_id)
        cancelled = await broadcast_store.cancel(conn, berlin, broadcast_id)
        return found, counted, cancelled

    found, counted, cancelled = await ctx.db.transaction(as_berlin)
    assert found is None and counted.total == 0 and cancelled == 0
    status = await get_broadcast(ctx, koeln, broadcast_id)
    assert status.broadcast.cancelled_at is None and status.progress.pending == 1

    # Two regions: someone with only one of them does not see it either.
    both = await create_broadcast(ctx, koeln, [KOELN], {"de": "x"})
    rows = await ctx.db.fetch(
        "UPDATE broadcasts SET regions = $2::JSONB WHERE id = $1 RETURNING id",
        both.broadcast.id,
        '["de-berlin-mitte", "de-koeln"]',
    )
    assert rows
    with pytest.raises(NotFound):
        await get_broadcast(ctx, koeln, both.broadcast.id)

    admin = await authenticate(ctx, (await create_staff(ctx, "A", "admin", [])).token)
    assert (await get_broadcast(ctx, admin, both.broadcast.id)).broadcast.id == both.broadcast.id
    status = await cancel_broadcast(ctx, admin, broadcast_id)
    assert status.broadcast.cancelled_at is not None and status.progress.cancelled == 1
