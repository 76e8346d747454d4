"""argon2id off the event loop, with a ceiling on how much of it runs at once.

Each check or hash takes about 50 ms of CPU and 64 MiB of memory (the library's RFC 9106
parameters). Sign-in pages answer anyone, so without a ceiling fifty sign-ins at once could
take a pod past its memory limit, and with it the Telegram webhook on the same pod (issue 20).
A small executor of its own runs at most ``WORKERS`` at a time (the default thread pool is
shared with everything else); at most ``WAITING`` more may queue, and beyond that a sign-in is
told to come back in a moment rather than queue for ever.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from backend.domain.errors import DomainError

T = TypeVar("T")

WORKERS = 2  # 2 x 64 MiB at most: see deploy/k8s for the pods' memory
WAITING = 32  # sign-ins queued for a worker beyond those running


class HashingBusy(DomainError):
    """Too many sign-ins at once: try again in a moment (HTTP 503 with Retry-After)."""

    def __init__(self) -> None:
        super().__init__("busy")


class HashingCapacity:
    def __init__(self, workers: int = WORKERS, waiting: int = WAITING):
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="argon2")
        self._admitted = asyncio.BoundedSemaphore(workers + waiting)
        self._count = threading.Lock()
        self.running = 0  # how many run right now
        self.most = 0  # the most that ran at once (the tests' proof of the ceiling)

    async def run(self, work: Callable[[], T]) -> T:
        """``work()`` in a worker; HashingBusy at once when too many wait already."""
        if self._admitted.locked():
            raise HashingBusy()
        async with self._admitted:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._counted, work
            )

    def _counted(self, work: Callable[[], T]) -> T:
        with self._count:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return work()
        finally:
            with self._count:
                self.running -= 1


CAPACITY = HashingCapacity()  # one per process: the ceiling is the process's memory
