"""Getting updates to the bot: getUpdates long polling, and webhooks delivered over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import traceback
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from bot.sandbox.faults import BotApiFault
from bot.sandbox.methods import Described, Method
from bot.sandbox.objects import is_loopback_host
from bot.sandbox.params import Params

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi

log = logging.getLogger(__name__)

WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
MAX_POLL_TIMEOUT = 50  # seconds; longer timeouts are cut to this, as Telegram does
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class Webhook:
    """The webhook setting and the task that POSTs queued updates to it, one at a time, in order.

    A non-2xx answer or a connection error is recorded for getWebhookInfo and the same update is
    retried after a short, growing delay (``retry_delays``), like Telegram's own retries but
    faster so tests don't wait.
    """

    def __init__(self, api: SandboxBotApi) -> None:
        self._api = api
        self.url = ""
        self.secret_token: str | None = None
        self.max_connections = 40
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0)
        self.delivered: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def set(self, url: str, secret_token: str | None, max_connections: int) -> None:
        await self.clear()
        self.url, self.secret_token, self.max_connections = url, secret_token, max_connections
        self.last_error_date = self.last_error_message = None
        self._task = asyncio.create_task(self._deliver_forever(), name="sandbox-webhook")

    async def clear(self) -> None:
        """Stop delivering; pending updates stay queued for getUpdates."""
        self.url, self.secret_token = "", None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        await self.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver_forever(self) -> None:
        queue = self._api.state.updates
        failures = 0
        while True:
            batch = await queue.signal.wait_for(lambda: queue.deliverable(1), timeout=3600)
            if not batch:
                continue
            update = batch[0]
            try:
                error = await self._post(update)
            except Exception:  # a sandbox bug: keep it visible, keep delivering
                log.exception("webhook delivery failed")
                self._api.internal_errors.append(traceback.format_exc())
                error = "Internal sandbox error"
            if error is None:
                queue.confirm_below(update["update_id"] + 1)
                self.delivered.append(update)
                failures = 0
                continue
            self.last_error_date = self._api.state.now()
            self.last_error_message = error
            delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
            failures += 1
            await asyncio.sleep(delay)  # a retry backoff of the server, not a synchronisation

    async def _post(self, update: dict[str, Any]) -> str | None:
        """POST one update; None on success, else the error text getWebhookInfo reports."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {}
        if self.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
        try:
            async with self._session.post(self.url, json=update, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.debug("webhook delivery to %s failed: %r", self.url, exc)
            return f"Connection failed: {exc.__class__.__name__}"


async def get_updates(api: SandboxBotApi, p: Params) -> list[dict[str, Any]]:
    if api.webhook.url:
        raise BotApiFault(409, WEBHOOK_CONFLICT)
    queue = api.state.updates
    offset = p.get_int("offset")
    limit = min(max(p.get_int("limit") or 100, 1), 100)
    timeout = min(max(p.get_int("timeout") or 0, 0), MAX_POLL_TIMEOUT)
    allowed = p.get_list("allowed_updates", what="allowed updates")
    if allowed is not None:
        queue.allowed_updates = [str(kind) for kind in allowed]
    if offset is not None and offset < 0:
        queue.keep_last(-offset)
    elif offset is not None:
        queue.confirm_below(offset)

    # A newer getUpdates ends an older one still waiting, exactly like Telegram.
    api.poll_generation += 1
    generation = api.poll_generation
    queue.signal.fire()

    def check() -> tuple[str, list[dict[str, Any]]] | None:
        if api.closing:
            return ("closing", [])
        if api.webhook.url:
            return ("webhook", [])
        if api.poll_generation != generation:
            return ("conflict", [])
        updates = queue.deliverable(limit)
        return ("updates", updates) if updates else None

    outcome = await queue.signal.wait_for(check, timeout)
    if outcome is not None and outcome[0] == "conflict":
        raise BotApiFault(409, POLL_CONFLICT)
    if outcome is not None and outcome[0] == "webhook":
        raise BotApiFault(409, WEBHOOK_CONFLICT)
    return outcome[1] if outcome is not None else []


async def set_webhook(api: SandboxBotApi, p: Params) -> Described:
    url = p.get_str("url") or ""
    if not url:
        return await delete_webhook(api, p)
    try:
        parsed = URL(url)
    except ValueError:
        raise BotApiFault.bad_request("bad webhook: invalid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise BotApiFault.bad_request("bad webhook: An HTTP or HTTPS URL must be provided")
    if not is_loopback_host(parsed.host):
        raise BotApiFault.bad_request(
            "bad webhook: the sandbox delivers webhooks only to 127.0.0.1, localhost or ::1"
        )
    secret = p.get_str("secret_token")
    if secret is not None and not _SECRET_TOKEN.match(secret):
        raise BotApiFault.bad_request("secret token contains unallowed characters")
    max_connections = p.get_int("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise BotApiFault.bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = p.get_list("allowed_updates", what="allowed updates")
    if allowed is not None:
        api.state.updates.allowed_updates = [str(kind) for kind in allowed]
    if p.get_bool("drop_pending_updates"):
        api.state.updates.drop_all()
    already = api.webhook.url == url
    await api.webhook.set(url, secret, max_connections)
    api.state.updates.signal.fire()  # a waiting getUpdates now answers 409
    return Described(True, "Webhook is already set" if already else "Webhook was set")


async def delete_webhook(api: SandboxBotApi, p: Params) -> Described:
    if p.get_bool("drop_pending_updates"):
        api.state.updates.drop_all()
    was_set = bool(api.webhook.url)
    await api.webhook.clear()
    return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")


async def get_webhook_info(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    hook = api.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(api.state.updates.pending),
    }
    if hook.url:
        info["ip_address"] = "127.0.0.1"
        info["max_connections"] = hook.max_connections
        if api.state.updates.allowed_updates:
            info["allowed_updates"] = list(api.state.updates.allowed_updates)
    if hook.last_error_date is not None:
        info["last_error_date"] = hook.last_error_date
        info["last_error_message"] = hook.last_error_message
    return info


METHODS: dict[str, Method] = {
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
}
