"""Server-sent events: a page open in a browser learns that what it shows has changed.

No LISTEN/NOTIFY (CockroachDB and YugabyteDB have none, PORTABLE_SQL.md): each stream asks
the database every few seconds for a version of what its page shows (a few counts and the
latest change), and sends an event when it differs. The page then fetches the new part itself,
through the same audited services as any page. A stream ends with its session (sign-out,
expiry) and when the browser goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_sse import sse_response

from backend.api.keys import CONTEXT, STAFF
from backend.api.registry import Access
from backend.api.requests import uuid_param
from backend.console.keys import OPTIONS, SESSION, STREAMS
from backend.console.pages import PAGES
from backend.console.security import session_cookie
from backend.domain.errors import DomainError
from backend.domain.staff import StaffMember
from backend.services import broadcasts, escalations, signin
from backend.services.cases import within
from backend.storage.database import UNAVAILABLE

log = logging.getLogger(__name__)


async def _stream(
    request: web.Request,
    event: str,
    version: Callable[[StaffMember], Awaitable[str | None]],
) -> web.StreamResponse:
    """Send ``event`` with the current version now and whenever it changes; None ends it.
    Beyond the streams a session may have open its oldest ends; 429 beyond the process's
    (``stream_slots``).

    ``version`` is asked with the member as the session has them now (a role or regions
    changed meanwhile count at once). Whatever goes wrong once the stream has begun ends it
    (logged): an error page cannot be sent into a stream, and the browser reconnects."""
    with request.app[STREAMS].taken(request[SESSION].id) as stop:
        if stop is None:
            raise web.HTTPTooManyRequests(text="Too many live-update streams are open.")
        return await _send(request, event, version, stop)


async def _send(
    request: web.Request,
    event: str,
    version: Callable[[StaffMember], Awaitable[str | None]],
    stop: asyncio.Event,
) -> web.StreamResponse:
    """The stream itself, once a slot is held; ``stop`` ends it (a newer page's stream)."""
    options = request.app[OPTIONS]
    ctx = request.app[CONTEXT]
    cookie = session_cookie(request)
    async with sse_response(request) as stream:
        last = None
        while stream.is_connected() and not stop.is_set():
            try:
                session = await signin.current(ctx, options.policy, cookie, touch=False)
                if session is None:
                    await stream.send("", event="signed-out")
                    break
                current = await version(session.staff)
                if current is None:
                    break
                if current != last:
                    await stream.send(current, event=event)
                    last = current
            except (DomainError, *UNAVAILABLE) as error:  # a browser gone is an OSError too
                log.info("event stream ended: %s", type(error).__name__)
                break
            # Not wait_for(stream.wait()): cancelling that wait would cancel the stream's ping,
            # which is how it notices that the browser went away. Our own signal is safe.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), options.events_every)
        if stop.is_set() and stream.is_connected():
            # The page must not reconnect (EventSource would, and end another in turn).
            with contextlib.suppress(OSError):
                await stream.send("", event="superseded")
    return stream


@PAGES.get("/events", access=Access.READ, background=True)
async def worklist_events(request: web.Request) -> web.StreamResponse:
    region = request.query.get("region") or None
    within(request[STAFF], region)  # another's region: not found, before the stream begins

    async def version(staff: StaffMember) -> str:
        return await escalations.worklist_version(
            request.app[CONTEXT], staff, within(staff, region)
        )

    return await _stream(request, "worklist", version)


@PAGES.get("/broadcasts/{broadcast_id}/events", access=Access.READ, background=True)
async def broadcast_events(request: web.Request) -> web.StreamResponse:
    """A broadcast's progress as it drains; the stream ends when nothing is pending."""
    broadcast_id = uuid_param(request, "broadcast_id", "broadcast")
    ctx = request.app[CONTEXT]
    await broadcasts.get_broadcast(ctx, request[STAFF], broadcast_id)  # or not found, now
    finished = False

    async def version(staff: StaffMember) -> str | None:
        nonlocal finished
        if finished:
            return None
        status = await broadcasts.get_broadcast(ctx, staff, broadcast_id)
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
