"""Getting updates to the bot: getUpdates long polling, and the webhook methods.

The delivery itself (concurrent across chats, in order within one) is in
:mod:`bot.sandbox.webhook`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from yarl import URL

from bot.sandbox.faults import BotApiFault
from bot.sandbox.methods import Described, Method
from bot.sandbox.objects import is_loopback_host
from bot.sandbox.params import Params
from bot.sandbox.webhook import Webhook as Webhook  # the server makes it as updates.Webhook

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi

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
    was_set = bool(api.webhook.url)
    # Stopped first, so no POST in flight can still deliver an update that is being dropped.
    await api.webhook.clear()
    if p.get_bool("drop_pending_updates"):
        api.state.updates.drop_all()
    return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")


async def get_webhook_info(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    hook = api.webhook
    info: dict[str, Any] = {
        "url": hook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(api.state.updates),
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
