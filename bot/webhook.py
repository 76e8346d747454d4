"""The webhook route: Telegram POSTs updates here when DIARY_WEBHOOK_URL is set.

The update is processed before we answer 200, so a failure makes Telegram deliver it again
(and ``processed_updates`` makes a repeat harmless).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from backend.logs import UPDATE_ID

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # updates are small; anything bigger is not from Telegram


def webhook_handler(
    application: Callable[[], Application], secret: str
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
        app = application()
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("no update_id")
            update = Update.de_json(data, app.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("webhook body is not an update: %s", type(error).__name__)
            return web.Response(status=400, text="not an update")
        token = UPDATE_ID.set(update.update_id)
        try:
            await app.process_update(update)
        finally:
            UPDATE_ID.reset(token)
        return web.Response(status=200)

    return receive_update
