"""The composition root: the one module that wires backend, bot and their lifecycles.

It is the only part of ``backend`` allowed to import ``bot`` (see the import-linter contracts
in pyproject.toml): everything else in the backend stays free of Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aiohttp import web
from telegram.ext import Application

from backend.api.app import create_api
from backend.config.regions import load_regions
from backend.config.settings import Settings, SettingsError, host_problem, is_loopback
from backend.console.app import mount_console
from backend.console.keys import ConsoleOptions
from backend.domain.clock import Clock, SystemClock
from backend.domain.signin import SessionPolicy
from backend.i18n import Catalogs
from backend.i18n import catalogs as shipped_catalogs
from backend.logs import PathOnlyAccessLogger, ServerLogger
from backend.scheduling.scheduler import RegionalScheduler
from backend.services.alert_checks import AlertChecker
from backend.services.context import RegionDirectory, ServiceContext, Signal
from backend.services.observability import refresh_gauges
from backend.services.setup import prepare_database
from backend.services.totp_secrets import load_keys
from backend.storage.database import Database
from backend.storage.embedded import start_embedded
from bot.ingest import UpdateProcessor
from bot.runtime import BotEndpoint, BotIdentity, RunningBot, running_bot, running_sender
from bot.sender import OutboxSender
from bot.webhook import webhook_handler

if TYPE_CHECKING:  # loaded only in sandbox mode
    from bot.sandbox import SandboxBotApi

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "1000000001:SANDBOX-local-token-not-for-telegram"


class Running:
    """What runs once the service has started (the webhook route is added before it exists);
    found on the app under ``RUNNING``."""

    bot: RunningBot | None = None
    sender: OutboxSender | None = None

    def get(self) -> Application:
        return self._bot().application

    def processor(self) -> UpdateProcessor:
        return self._bot().processor

    def _bot(self) -> RunningBot:
        if self.bot is None:
            raise web.HTTPServiceUnavailable(text="the bot is starting")
        return self.bot


RUNNING = web.AppKey("running", Running)


def console_options(settings: Settings) -> ConsoleOptions:
    return ConsoleOptions(
        policy=SessionPolicy(
            idle=timedelta(minutes=settings.console_idle_minutes),
            lifetime=timedelta(hours=settings.console_session_hours),
        ),
        trusted_proxy_hops=settings.trusted_proxy_hops,
    )


def build_context(settings: Settings, clock: Clock | None = None) -> ServiceContext:
    catalogs = shipped_catalogs()
    return ServiceContext(
        db=Database(),
        regions=RegionDirectory(load_regions(settings.regions_file)),
        clock=clock or SystemClock(),
        languages=catalogs.languages,
        outbox=Signal(),
        send_rate=settings.send_rate,
        totp_keys=load_keys(settings),  # a bad key file stops start-up here, in one sentence
    )


async def open_database(
    settings: Settings, ctx: ServiceContext, *, apply_migrations: bool | None = None
) -> None:
    """Connect (starting the embedded server if no URL is set) and prepare the schema.

    Migrations run by default only on the embedded database: elsewhere an operator runs
    ``symptom-diary migrate`` deliberately (e.g. as a deployment job).
    """
    url = settings.database_url
    if url is None:
        try:
            url = await start_embedded(settings.data_dir)
        except OSError as error:  # not writable, not a directory, no space...
            raise SettingsError(
                f"DIARY_DATA_DIR {settings.data_dir} cannot hold the embedded database "
                f"({error.strerror or type(error).__name__}); choose a writable directory."
            ) from None
        log.info("embedded PostgreSQL running under %s", settings.data_dir)
    await ctx.db.open(url, max_size=settings.database_pool_size)
    if apply_migrations is None:
        apply_migrations = settings.embedded_database
    try:
        await prepare_database(ctx.db, ctx.regions, apply_migrations=apply_migrations)
    except BaseException:
        await ctx.db.close()
        raise


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    catalogs: Catalogs | None = None,
    schedule: bool = True,
) -> web.Application:
    """The service as one aiohttp application, doing what ``settings.roles`` ask for:

    - api: the staff API and the webhook route (behind a load balancer, as many as needed);
    - bot: long polling for updates (one instance, and only without a webhook);
    - scheduler: the regional schedules;
    - sender: the outbox sender, and the alert checker that turns queued diary entries into
      alerts for it (each one at a time, by a lease; others stand by).

    Health, readiness and metrics are served in every role. ``schedule=False`` leaves the
    schedules out (tests that drive rounds themselves).
    """
    catalogs = catalogs or shipped_catalogs()
    roles = settings.roles
    starts_sandbox = settings.sandbox and bool(roles & {"api", "bot", "sender"})
    for problem in (
        settings.embedded_database_problem(),
        settings.sandbox_database_problem() if starts_sandbox else None,
    ):
        if problem:  # before anything starts: no embedded server, no sandbox
            raise SettingsError(problem)
    ctx = build_context(settings, clock)
    identity = BotIdentity()
    running = Running()
    app = create_api(
        ctx,
        identity.deep_link,
        staff_api="api" in roles,
        trusted_proxy_hops=settings.trusted_proxy_hops,
    )
    app[RUNNING] = running
    if "api" in roles:
        mount_console(app, ctx, identity.deep_link, console_options(settings))
    webhook = bool(settings.webhook_url and settings.webhook_secret)
    if webhook and "api" in roles:
        path = urlsplit(settings.webhook_url).path or "/"
        app.router.add_post(path, webhook_handler(running.processor, settings.webhook_secret))
    if "bot" in roles and webhook:
        log.warning("role bot does nothing with DIARY_WEBHOOK_URL set: updates come by webhook")

    async def database(_: web.Application) -> AsyncIterator[None]:
        await open_database(settings, ctx)
        yield
        await ctx.db.close()

    async def bot(_: web.Application) -> AsyncIterator[None]:
        async with _bot_endpoint(settings) as endpoint:
            async with running_bot(
                endpoint,
                ctx,
                catalogs,
                identity,
                poll="bot" in roles and not webhook,
                webhook_url=settings.webhook_url if "api" in roles else None,
                webhook_secret=settings.webhook_secret,
                lease_seconds=settings.lease_seconds,
            ) as bot_running:
                running.bot = bot_running
                if "sender" not in roles:
                    yield
                else:
                    async with running_sender(
                        bot_running.application,
                        ctx,
                        catalogs,
                        paid_broadcast=settings.paid_broadcast,
                        poll_seconds=settings.sender_poll_seconds,
                        lease_seconds=settings.lease_seconds,
                    ) as sender:
                        running.sender = sender
                        yield
                        running.sender = None
                running.bot = None

    async def scheduling(_: web.Application) -> AsyncIterator[None]:
        scheduler = RegionalScheduler(
            ctx,
            grace=timedelta(minutes=settings.round_grace_minutes),
            regions_file=settings.regions_file,
            reload_seconds=settings.regions_reload_seconds,
            regional="scheduler" in roles,  # other roles only follow the regions file
        )
        scheduler.start()
        yield
        scheduler.shutdown()

    async def checking(_: web.Application) -> AsyncIterator[None]:
        checker = AlertChecker(
            ctx,
            poll_seconds=settings.sender_poll_seconds,
            lease_seconds=settings.lease_seconds,
        )
        task = asyncio.create_task(checker.run(), name="alert-checks")
        yield
        checker.stop()  # the batch in hand is finished and recorded
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            log.warning("the alert checker did not stop within 10 s; cancelled")

    async def gauges(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_refresh_gauges(ctx), name="metrics")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(database)
    if roles & {"api", "bot", "sender"}:  # they all talk to Telegram (or the sandbox)
        app.cleanup_ctx.append(bot)
    if "sender" in roles:  # feeds the outbox it sends: alerts from queued diary entries
        app.cleanup_ctx.append(checking)
    if schedule:
        app.cleanup_ctx.append(scheduling)
    app.cleanup_ctx.append(gauges)
    log.info("roles: %s", ", ".join(sorted(roles)))
    return app


def app_runner(app: web.Application) -> web.AppRunner:
    """The runner ``serve`` listens with: the access log without query strings or control
    characters, and a malformed request (a NUL in a header) answered 400 with one quiet line
    instead of an ERROR and a traceback quoting what the client sent."""
    return web.AppRunner(app, access_log_class=PathOnlyAccessLogger, logger=ServerLogger())


async def _refresh_gauges(ctx: ServiceContext, every: float = 15.0) -> None:
    """Outbox depth and open alerts for /metrics, from the database every few seconds."""
    while True:
        try:
            await refresh_gauges(ctx)
        except Exception as error:  # metrics are best effort; the service goes on
            log.debug("metrics not refreshed: %s", type(error).__name__)
        await asyncio.sleep(every)


async def _start_sandbox(sandbox: SandboxBotApi, settings: Settings) -> None:
    """On DIARY_SANDBOX_HOST (loopback, not DIARY_HTTP_HOST: its page and JSON API read every
    chat) and DIARY_SANDBOX_PORT; if only the default port is taken (a second service on the
    same machine, or anything else on 8081), on a free port: the banner names the page's URL."""
    host, port = settings.sandbox_host, settings.sandbox_port
    if not is_loopback(host):
        log.warning(
            "DIARY_SANDBOX_HOST is %s: whoever reaches it reads every sandbox chat and can "
            "write as anyone",
            host,
        )
    try:
        await sandbox.start(host=host, port=port)
        return
    except OSError as error:
        if problem := host_problem(host, error, "DIARY_SANDBOX_HOST"):
            raise SettingsError(problem) from None
        if settings.sandbox_port_explicit or port == 0:
            raise SettingsError(
                f"DIARY_SANDBOX_PORT {port} cannot be used on {host} "
                f"({error.strerror or type(error).__name__}); choose another port."
            ) from None
    await sandbox.start(host=host, port=0)
    log.warning(
        "port %d is taken: the sandbox Bot API listens on %s instead (set DIARY_SANDBOX_PORT "
        "to choose)",
        port,
        sandbox.root_url,
    )


@contextlib.asynccontextmanager
async def _bot_endpoint(settings: Settings) -> AsyncIterator[BotEndpoint]:
    """Telegram (or the Bot API server the settings name), else the built-in sandbox."""
    if settings.telegram_token:
        yield BotEndpoint(settings.telegram_token, settings.telegram_api_url)
        return
    from bot.sandbox import SandboxBotApi

    sandbox = SandboxBotApi(
        token=SANDBOX_TOKEN, bot_username="SymptomDiarySandboxBot", max_recorded_calls=10_000
    )
    await _start_sandbox(sandbox, settings)
    log.warning(
        "SANDBOX MODE: DIARY_TELEGRAM_TOKEN is not set, so the bot talks to the built-in "
        "loopback Bot API server, not to Telegram. Chat with it as a citizen at %s",
        sandbox.web_url,
    )
    try:
        yield BotEndpoint(SANDBOX_TOKEN, sandbox.base_url)
    finally:
        await sandbox.stop()
