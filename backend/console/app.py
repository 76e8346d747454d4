"""The console as an aiohttp application, mounted under /console by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from backend.api.auth import FailedLogins
from backend.api.keys import CONTEXT, DEEP_LINK
from backend.console import (  # noqa: F401 - importing a page module declares its pages
    admin,
    broadcasts,
    cases,
    events,
    register,
    signin_pages,
    worklist,
)
from backend.console.guard import error_pages, guard, security_headers
from backend.console.keys import FAILED_SIGNINS, OPTIONS, PAGE_TEXTS, STREAMS, ConsoleOptions
from backend.console.pages import PAGES
from backend.console.render import PREFIX
from backend.console.stream_slots import StreamSlots
from backend.i18n import catalogs
from backend.services.context import ServiceContext

HERE = Path(__file__).resolve().parent


def create_console(
    ctx: ServiceContext, deep_link: Callable[..., str], options: ConsoleOptions
) -> web.Application:
    app = web.Application(middlewares=[security_headers, error_pages, guard])
    app[CONTEXT] = ctx
    app[DEEP_LINK] = deep_link
    app[OPTIONS] = options
    app[PAGE_TEXTS] = catalogs(domain="console")
    app[FAILED_SIGNINS] = FailedLogins()
    app[STREAMS] = StreamSlots(options.streams_per_session, options.streams_per_process)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html", "svg"]),
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the test, not the page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    PAGES.install(app)
    app.router.add_static("/static", HERE / "static", name="static", append_version=True)
    return app


def mount_console(
    app: web.Application,
    ctx: ServiceContext,
    deep_link: Callable[..., str],
    options: ConsoleOptions,
) -> None:
    """The console under /console, and the bare root and /console leading to it."""

    async def to_console(_: web.Request) -> web.Response:
        raise web.HTTPFound(f"{PREFIX}/")

    app.router.add_get("/", to_console)
    app.router.add_get(PREFIX, to_console)
    app.add_subapp(PREFIX, create_console(ctx, deep_link, options))
