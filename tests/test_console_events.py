"""Live updates: an open worklist learns of a new alert by a server-sent event, and a page
left alone does not keep its session alive (the stream ends with it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import ClientResponse

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
