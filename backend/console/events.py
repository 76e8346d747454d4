"""Server-sent events: a page open in a browser learns that what it shows has changed.

No LISTEN/NOTIFY (CockroachDB and YugabyteDB have none, PORTABLE_SQL.md): each stream asks
the database every few seconds for a version of what its page shows (a few counts and the
latest change), and sends an event when it differs. The page then fetches the new part itself,
through the same audited services as any page. A stream ends with its session (sign-out,
expiry) and when the browser goes away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_sse import sse_response

from backend.api.keys import CONTEXT, STAFF
from backend.api.registry import Access
from backend.api.requests import uuid_param
from backend.console.keys import OPTIONS
from backend.console.pages import PAGES
from backend.console.security import session_cookie
from backend.services import broadcasts, escalations, signin
from backend.services.cases import within


async def _stream(
    request: web.Request, event: str, version: Callable[[], Awaitable[str | None]]
) -> web.StreamResponse:
    """Send ``event`` with the current version now and whenever it changes; None ends it."""
    options = request.app[OPTIONS]
    ctx = request.app[CONTEXT]
    cookie = session_cookie(request)
    async with sse_response(request) as stream:
        last = None
        while stream.is_connected():
            if await signin.current(ctx, options.policy, cookie, touch=False) is None:
                await stream.send("", event="signed-out")
                break
            current = await version()
            if current is None:
                break
            if current != last:
                await stream.send(current, event=event)
                last = current
            # Not wait_for(stream.wait()): cancelling that wait would cancel the stream's ping,
            # which is how it notices that the browser went away.
            await asyncio.sleep(options.events_every)
    return stream


@PAGES.get("/events", access=Access.READ, background=True)
async def worklist_events(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    regions = within(staff, request.query.get("region") or None)

    async def version() -> str:
        return await escalations.worklist_version(request.app[CONTEXT], staff, regions)

    return await _stream(request, "worklist", version)


@PAGES.get("/broadcasts/{broadcast_id}/events", access=Access.READ, background=True)
async def broadcast_events(request: web.Request) -> web.StreamResponse:
    """A broadcast's progress as it drains; the stream ends when nothing is pending."""
    staff = request[STAFF]
    broadcast_id = uuid_param(request, "broadcast_id", "broadcast")
    finished = False

    async def version() -> str | None:
        nonlocal finished
        if finished:
            return None
        status = await broadcasts.get_broadcast(request.app[CONTEXT], staff, broadcast_id)
        progress = status.progress
        finished = progress.pending == 0
        return json.dumps(
            {
                "total": status.broadcast.total,
                "sent": progress.sent,
                "failed": progress.failed,
                "blocked": progress.blocked,
                "cancelled": progress.cancelled,
                "pending": progress.pending,
            }
        )

    return await _stream(request, "progress", version)
