"""Live updates: an open worklist learns of a new alert by a server-sent event, and a page
left alone does not keep its session alive (the stream ends with it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import ClientResponse

from backend.console.stream_slots import PER_SESSION
from backend.domain.clock import FixedClock
from backend.services.context import ServiceContext
from tests.console_browser import Browser
from tests.test_console_pages import BERLIN, KOELN, Member, a_case, an_alert, member  # noqa: F401
from tests.test_console_signin import POLICY
from tests.waiting import eventually


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


async def test_open_streams_are_limited_per_session(
    ctx: ServiceContext,
    berta: Browser,
    member,  # noqa: F811
) -> None:
    """Each stream looks at the database every few seconds: a page in twenty tabs (or a
    script) must not take the pool from everyone else (issue 20). Four per session."""
    async with contextlib.AsyncExitStack() as open_streams:
        for _ in range(PER_SESSION):
            response = await open_streams.enter_async_context(
                berta.client.get("/console/events", timeout=30)
            )
            assert (await anext(events(response)))[0] == "worklist"
        refused = await berta.client.get("/console/events", timeout=30)
        assert refused.status == 429
        other = await member("bernd", "staff", [BERLIN])  # another session is not affected
        async with other.client.get("/console/events", timeout=30) as response:
            assert response.status == 200

    # Closed streams give their slots back (the server notices at its next look).
    async def reopened() -> bool:
        async with berta.client.get("/console/events", timeout=30) as response:
            return response.status == 200

    await eventually(reopened, "a stream for the session once the others closed", timeout=15)
