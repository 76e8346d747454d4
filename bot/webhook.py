"""The webhook route: Telegram POSTs updates here when DIARY_WEBHOOK_URL is set.

We answer 200 only once the update's effect is committed (or it was parked, bot.ingest);
otherwise 500, and Telegram delivers it again (``processed_updates`` makes a repeat of one
that did commit harmless). Telegram sends at most ``max_connections`` updates at once and
never two of one chat at a time, so one chat's updates stay in order.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.ingest import UpdateProcessor, update_id_of

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # updates are small; anything bigger is not from Telegram


def webhook_handler(
    processor: Callable[[], UpdateProcessor], secret: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    expected = secret.encode("utf-8")

    async def receive_update(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413, text="too large")
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return web.Response(status=413, text="too large")
        ingest = processor()
        try:
            data = json.loads(body)
        except ValueError as error:
            log.warning("webhook body is not an update: %s", type(error).__name__)
            return web.Response(status=400, text="not an update")
        if update_id_of(data) is None:
            log.warning("webhook body is not an update: no update_id")
            return web.Response(status=400, text="not an update")
        outcome = await ingest.process(data)
        if not outcome.confirm:
            return web.Response(status=500, text="not processed; deliver it again")
        return web.Response(status=200)

    return receive_update
