"""Waiting for another process (a server, the sender, the alert checker) to get something done:
there is no clock of ours to drive it, so its result is polled for, with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    """Until ``check()`` holds; AssertionError naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)
