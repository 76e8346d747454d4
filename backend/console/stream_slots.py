"""How many live-update streams may be open: per session, and per process.

Each open stream asks the database every few seconds; a page left open in twenty tabs, or a
script opening streams, must not take the pool's connections from everyone else (issue 20).

Per session, the newest page wins: a stream beyond ``PER_SESSION`` ends the session's oldest
one (a tab left behind, or a page just left whose stream the server has not noticed closing:
refusing the new one instead stopped a page's updates when a member clicked through a few
pages quickly, seen in CI under load). Per process, a stream beyond ``PER_PROCESS`` is
answered 429: the pages work without live updates, a reload shows what is new.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

PER_SESSION = 4  # a worklist and a broadcast or two, in a few tabs
PER_PROCESS = 100  # a few per duty officer; the pool has 10 connections by default


class StreamSlots:
    def __init__(self, per_session: int = PER_SESSION, per_process: int = PER_PROCESS):
        self.per_session, self.per_process = per_session, per_process
        self._open: dict[UUID, list[asyncio.Event]] = {}  # each stream's "stop" signal

    @contextmanager
    def taken(self, session: UUID) -> Iterator[asyncio.Event | None]:
        """A slot for a stream of ``session``, held until the block ends: the event that
        tells the stream to end (a newer one of the session took its place), or None when
        the process has no room."""
        mine = self._open.get(session, [])
        live = [stop for stop in mine if not stop.is_set()]
        if len(live) >= self.per_session:
            live[0].set()  # the session's oldest stream ends; this one takes its place
        elif sum(len(streams) for streams in self._open.values()) >= self.per_process:
            yield None
            return
        stop = asyncio.Event()
        self._open.setdefault(session, []).append(stop)
        try:
            yield stop
        finally:
            streams = self._open[session]
            streams.remove(stop)
            if not streams:
                del self._open[session]
