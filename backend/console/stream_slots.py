"""How many live-update streams may be open: per session, and per process.

Each open stream asks the database every few seconds and holds a connection's worth of work
while it does; a page left open in twenty tabs, or a script opening streams, must not take
the pool's connections from everyone else (issue 20). A stream beyond the limits is answered
429: the pages work without live updates (a reload shows what is new), and the browser does
not retry an EventSource refused that way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

PER_SESSION = 4  # a worklist and a broadcast or two, in a few tabs
PER_PROCESS = 100  # a few per duty officer; the pool has 10 connections by default


class StreamSlots:
    def __init__(self, per_session: int = PER_SESSION, per_process: int = PER_PROCESS):
        self.per_session, self.per_process = per_session, per_process
        self._open: Counter[UUID] = Counter()

    @contextmanager
    def taken(self, session: UUID) -> Iterator[bool]:
        """True (and held until the block ends) if a stream may open for ``session``."""
        free = (
            self._open[session] < self.per_session and sum(self._open.values()) < self.per_process
        )
        if free:
            self._open[session] += 1
        try:
            yield free
        finally:
            if free:
                self._open[session] -= 1
                if not self._open[session]:
                    del self._open[session]
