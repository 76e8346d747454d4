"""The service's HTTP server as ``serve`` runs it (``app_runner``), spoken to over a raw
socket: what a hostile request line or header does to the log and to the service."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from backend.config.settings import Settings
from backend.domain.clock import FixedClock
from backend.server import app_runner, create_app


@pytest.fixture
async def address(service_settings: Settings, clock: FixedClock) -> AsyncIterator[tuple]:
    """Host and port of the whole service, listening on loopback through ``app_runner``."""
    runner = app_runner(create_app(service_settings, clock=clock, schedule=False))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield runner.addresses[0][:2]
    finally:
        await runner.cleanup()


async def raw_request(address: tuple, request: bytes) -> bytes:
    """Send ``request`` as it is and read the answer until the server closes."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


GET_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """The access log as the text format writes it (``DIARY_LOG_FORMAT=text``)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("aiohttp.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_a_line_break_in_the_path_cannot_forge_a_log_line(
    address: tuple, access_log: io.StringIO
) -> None:
    forged = "2026-11-26 07:30:00,000 INFO aiohttp.access: GET /admin 200"
    path = "/healthz%0A" + forged.replace(" ", "%20") + "%0D%0Dx%1B[31m%C2%85y"
    answer = await raw_request(
        address, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert status_of(answer) == 404
    lines = access_log.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "GET /healthz\\x0a2026-11-26 07:30:00,000 INFO" in lines[0]
    assert "GET /admin 200\\x0d\\x0dx\\x1b[31m\\x85y 404 " in lines[0]


async def test_a_nul_in_a_header_is_refused_quietly(
    address: tuple, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    answer = await raw_request(
        address,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: private\x00value\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert status_of(answer) == 400
    loud = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]
    assert "private" not in caplog.text
    refused = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(refused) == 1 and refused[0].levelno in (logging.INFO, logging.WARNING)
    # The service goes on answering.
    assert status_of(await raw_request(address, GET_HEALTHZ)) == 200
