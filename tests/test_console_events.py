"""Live updates: an open worklist learns of a new alert by a server-sent event, and a page
left alone does not keep its session alive (the stream ends with it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import uuid4

import pytest
from aiohttp import ClientResponse

from backend.console.stream_slots import PER_SESSION, StreamSlots
from backend.domain.clock import FixedClock
from backend.services.context import ServiceContext
from tests.console_browser import Browser
from tests.test_console_pages import BERLIN, KOELN, Member, a_case, an_alert, member  # noqa: F401
from tests.test_console_signin import POLICY


async def events(response: ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs as the stream sends them."""
    event, data = "message", []
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif not line and (data or event != "message"):
            yield event, "\n".join(data)
            event, data = "message", []


@pytest.fixture
async def berta(member: Member) -> Browser:  # noqa: F811
    return await member("berta", "staff", [BERLIN])


async def test_an_open_worklist_hears_of_a_new_alert(ctx: ServiceContext, berta: Browser) -> None:
    case_id = await a_case(ctx, BERLIN, "B-LIVE-1")
    other = await a_case(ctx, KOELN, "K-LIVE-1")
    async with berta.client.get("/console/events", timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        stream = events(response)
        event, first = await anext(stream)
        assert event == "worklist"
        await an_alert(ctx, KOELN, other)  # another region's alert changes nothing here
        await an_alert(ctx, BERLIN, case_id)
        event, second = await anext(stream)
        assert event == "worklist" and second != first
    rows = await berta.get("/console/worklist/rows")
    assert rows.has("B-LIVE-1") and not rows.has("K-LIVE-1")


async def test_a_page_left_alone_signs_out_and_its_stream_ends(
    ctx: ServiceContext, berta: Browser, clock: FixedClock
) -> None:
    async with berta.client.get("/console/events", timeout=30) as response:
        stream = events(response)
        assert (await anext(stream))[0] == "worklist"
        # The stream's own looks and the page's background fetches do not count as use.
        clock.advance(POLICY.idle / 2)
        background = await berta.client.get(
            "/console/worklist/rows", headers={"X-Console-Background": "1"}
        )
        assert background.status == 200
        clock.advance(POLICY.idle / 2 + timedelta(minutes=1))
        assert (await anext(stream))[0] == "signed-out"
    assert (await berta.get("/console/")).url.startswith("/console/sign-in")


async def test_a_sessions_newest_streams_win_and_a_process_has_a_ceiling(
    ctx: ServiceContext,
    berta: Browser,
    member,  # noqa: F811
) -> None:
    """Each stream looks at the database every few seconds: a page in twenty tabs (or a
    script) must not take the pool from everyone else (issue 20). Four per session: a fifth
    ends the oldest (told "superseded", so that its page does not reconnect)."""
    async with contextlib.AsyncExitStack() as open_streams:
        streams = []
        for _ in range(PER_SESSION + 1):
            response = await open_streams.enter_async_context(
                berta.client.get("/console/events", timeout=30)
            )
            assert response.status == 200
            stream = events(response)
            assert (await anext(stream))[0] == "worklist"
            streams.append(stream)
        assert (await anext(streams[0]))[0] == "superseded"
        other = await member("bernd", "staff", [BERLIN])  # another session is not affected
        async with other.client.get("/console/events", timeout=30) as response:
            assert (await anext(events(response)))[0] == "worklist"


def test_a_process_refuses_streams_beyond_its_ceiling() -> None:
    slots = StreamSlots(per_session=2, per_process=3)
    sessions = [uuid4() for _ in range(4)]
    with slots.taken(sessions[0]) as a, slots.taken(sessions[1]) as b:
        with slots.taken(sessions[2]) as c, slots.taken(sessions[3]) as refused:
            assert a and b and c and refused is None
        with slots.taken(sessions[3]) as room:  # one ended: room again
            assert room is not None
