"""Running python-telegram-bot inside the aiohttp process, without PTB's Updater.

Updates arrive through our own long polling (bot/polling.py) or the webhook route
(bot/webhook.py); both hand them to one processing core (bot/ingest.py) and confirm only
what it says is committed or parked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from telegram import BotCommand
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application, ApplicationBuilder
from telegram.helpers import create_deep_linked_url

from backend.config.settings import SettingsError
from backend.i18n import Catalogs
from backend.logs import describe_error
from backend.services.context import ServiceContext
from backend.storage.leases import Lease
from bot.aiohttp_request import AiohttpRequest
from bot.handlers import Handlers
from bot.ingest import UpdateProcessor
from bot.polling import ALLOWED_UPDATES, poll_forever
from bot.render import Renderer
from bot.sender import IN_FLIGHT, OutboxSender
from bot.texts import COMMANDS

log = logging.getLogger(__name__)

# How long getMe keeps trying a Bot API server that cannot be reached, e.g. one started at the
# same time as this service.
GETME_PATIENCE = 30.0


@dataclass(frozen=True)
class BotEndpoint:
    token: str
    base_url: str  # PTB's base_url: the token is appended


class BotIdentity:
    """Who the bot is, known after getMe; the API needs the username for deep links."""

    def __init__(self) -> None:
        self.username: str | None = None

    def deep_link(self, code: str, group: bool = False) -> str:
        """``t.me/<bot>?start=<code>``, or ``?startgroup=`` to add the bot to a group."""
        if self.username is None:
            raise RuntimeError("the bot is not running yet")
        return create_deep_linked_url(self.username, code, group=group)


def build_application(endpoint: BotEndpoint, handlers: Handlers) -> Application:
    application = (
        ApplicationBuilder()
        .token(endpoint.token)
        .base_url(endpoint.base_url)
        .request(AiohttpRequest(connection_pool_size=IN_FLIGHT, token=endpoint.token))
        .get_updates_request(AiohttpRequest(connection_pool_size=1, token=endpoint.token))
        .updater(None)
        .job_queue(None)  # scheduling is ours (APScheduler per region), not PTB's
        .build()
    )
    handlers.register(application)
    return application


async def set_commands(application: Application, catalogs: Catalogs) -> None:
    """Register the command menu in every shipped language (best effort: a Bot API server
    without it, or one answering something odd, must not stop the bot)."""
    try:
        for language in (None, *catalogs.languages):
            t = catalogs.get(language)
            await application.bot.set_my_commands(
                [BotCommand(name, t.gettext(text)) for name, text in COMMANDS],
                language_code=language,
            )
    except Exception as error:  # noqa: BLE001 - best effort
        log.warning(
            "could not set the command menu (%s)", describe_error(error, application.bot.token)
        )


async def _initialize(application: Application, endpoint: BotEndpoint) -> None:
    """getMe: the bot must be reachable and the token accepted, else start-up stops. A server
    that cannot be reached yet (started at the same time as we were) gets GETME_PATIENCE
    seconds. The HTTP sessions are closed whenever this fails."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GETME_PATIENCE
    delay = 0.5
    try:
        while True:
            try:
                await application.initialize()
                break
            except NetworkError as error:  # also TimedOut and 5xx; not a refused token
                if loop.time() + delay > deadline:
                    raise
                log.warning(
                    "the Bot API at %s cannot be reached yet (%s); retrying in %.1f s",
                    endpoint.base_url,
                    describe_error(error, endpoint.token),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
        if not application.bot.username:
            raise SettingsError(
                f"The Bot API at {endpoint.base_url} answered getMe without a username, which "
                "deep links need; check DIARY_TELEGRAM_API_URL."
            )
    except BaseException as error:
        await application.bot.shutdown()  # close the HTTP connections opened so far
        if isinstance(error, InvalidToken):
            # PTB's own message contains the token; ours must not.
            raise SettingsError(
                "The Bot API refused DIARY_TELEGRAM_TOKEN (401 Unauthorized, or 404 when "
                "DIARY_TELEGRAM_API_URL does not end in /bot); check both."
            ) from None
        if isinstance(error, NetworkError):
            raise SettingsError(
                f"The Bot API at {endpoint.base_url} cannot be reached "
                f"({describe_error(error, endpoint.token)}); check DIARY_TELEGRAM_API_URL and the "
                "network."
            ) from None
        if isinstance(error, Exception) and not isinstance(error, SettingsError):
            raise SettingsError(
                f"The Bot API at {endpoint.base_url} gave getMe an answer that cannot be used "
                f"({type(error).__name__}); check DIARY_TELEGRAM_API_URL."
            ) from None
        raise


async def _drop_webhook(application: Application) -> None:
    """Long polling needs no webhook; a Bot API server without webhooks may refuse (fine)."""
    try:
        await application.bot.delete_webhook()
    except Exception as error:  # noqa: BLE001 - best effort
        log.warning(
            "deleteWebhook failed (%s); polling anyway",
            describe_error(error, application.bot.token),
        )


def _poller_ended(task: asyncio.Task) -> None:
    """The poller retries every failure itself; if it ends anyway, say so loudly: no update
    arrives any more until a restart."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("polling stopped: %s; restart the bot", type(task.exception()).__name__)


@dataclass(frozen=True)
class RunningBot:
    application: Application
    processor: UpdateProcessor  # where the webhook route hands its updates


@contextlib.asynccontextmanager
async def running_bot(
    endpoint: BotEndpoint,
    ctx: ServiceContext,
    catalogs: Catalogs,
    identity: BotIdentity,
    *,
    poll: bool = True,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    lease_seconds: float = 20.0,
) -> AsyncIterator[RunningBot]:
    """Initialise the bot (getMe), then poll or register the webhook; stop cleanly on exit."""
    application = build_application(endpoint, Handlers(ctx))
    processor = UpdateProcessor(application, ctx)
    await _initialize(application, endpoint)
    try:
        identity.username = application.bot.username
        log.info("bot @%s initialised", identity.username)
        await set_commands(application, catalogs)
        await application.start()
    except BaseException:
        if application.running:
            await application.stop()
        await application.shutdown()  # closes the HTTP sessions
        raise
    poller: asyncio.Task | None = None
    try:
        if webhook_url:
            await application.bot.set_webhook(
                webhook_url, secret_token=webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("webhook registered; updates arrive over HTTPS")
        elif poll:
            await _drop_webhook(application)
            lease = Lease(ctx.db, "poller", timedelta(seconds=lease_seconds))
            poller = asyncio.create_task(
                poll_forever(application, processor, lease), name="telegram-polling"
            )
            poller.add_done_callback(_poller_ended)
            log.info("long polling (while this instance holds the poller lease)")
        yield RunningBot(application, processor)
    finally:
        if poller:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        await application.stop()
        await application.shutdown()


@contextlib.asynccontextmanager
async def running_sender(
    application: Application,
    ctx: ServiceContext,
    catalogs: Catalogs,
    *,
    paid_broadcast: bool = False,
    poll_seconds: float = 2.0,
    lease_seconds: float = 20.0,
) -> AsyncIterator[OutboxSender]:
    sender = OutboxSender(
        ctx.db,
        application.bot,
        Renderer(catalogs, ctx.clock, ctx.regions),
        ctx.outbox,
        rate=ctx.send_rate,
        paid_broadcast=paid_broadcast,
        poll_seconds=poll_seconds,
        leader_ttl=timedelta(seconds=lease_seconds),
    )
    task = asyncio.create_task(sender.run(), name="outbox-sender")
    try:
        yield sender
    finally:
        # Let the batch in hand finish and be recorded: cancelling it half-way would send it
        # again after a restart.
        sender.stop()
        try:
            await asyncio.wait_for(task, timeout=10)
        except TimeoutError:
            log.warning("the sender did not stop within 10 s; cancelled")
        except asyncio.CancelledError:
            pass
