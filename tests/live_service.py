"""The whole service running in a thread of its own, with its own event loop, for tests
whose client is synchronous (schemathesis uses requests, selenium drives a browser)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from backend.api.keys import CONTEXT
from backend.config.settings import Settings
from backend.server import create_app
from backend.services.context import ServiceContext
from backend.services.staff import create_staff
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN, BOT_USERNAME

T = TypeVar("T")


@dataclass
class LiveService:
    base_url: str
    tokens: dict[str, str]  # role -> bearer token (staff and viewer in de-koeln)
    ctx: ServiceContext
    sandbox: SandboxBotApi  # plays Telegram and its users
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run ``work`` on the service's own loop (the sandbox's users live there too)."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)


@contextmanager
def live_service(database_url: str) -> Iterator[LiveService]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict = {}

    async def start() -> None:
        sandbox = SandboxBotApi(token=BOT_TOKEN, bot_username=BOT_USERNAME)
        await sandbox.start(port=0)
        settings = Settings.from_env(
            {
                "DIARY_DATABASE_URL": database_url,
                "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
                "DIARY_TELEGRAM_API_URL": sandbox.base_url,
            }
        )
        app = create_app(settings, schedule=False)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - the bound port
        ctx = app[CONTEXT]
        tokens = {
            "admin": (await create_staff(ctx, "Fuzz Admin", "admin", [])).token,
            "staff": (await create_staff(ctx, "Fuzz Staff", "staff", ["de-koeln"])).token,
            "viewer": (await create_staff(ctx, "Fuzz Viewer", "viewer", ["de-koeln"])).token,
        }
        service = LiveService(f"http://127.0.0.1:{port}", tokens, ctx, sandbox, loop)
        state.update(sandbox=sandbox, runner=runner, service=service)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        finally:
            started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="live-service", daemon=True)
    thread.start()
    started.wait(60)
    if "service" not in state:
        raise RuntimeError("the live service did not start")
    try:
        yield state["service"]
    finally:

        async def stop() -> None:
            await state["runner"].cleanup()
            await state["sandbox"].stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
