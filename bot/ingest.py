"""One processing core for both ways updates arrive (the webhook route, long polling).

``UpdateProcessor.process`` handles one raw update and says what to tell Telegram:

- ``DONE``: the effect is committed (or there was nothing to do): confirm it;
- ``RETRY``: it was not committed (a conflict that outlasted its retries, the database away,
  a bug): do not confirm, so that Telegram delivers it again. The update's key makes the
  redelivery safe: an update whose effect did commit is recognised and changes nothing;
- ``PARKED``: it failed ``MAX_ATTEMPTS`` times, so it is given up where an operator sees it
  and the person is told "sorry" (services.update_failures): confirm it.

A failure that a retry can mend is thus never the end of a citizen's message, and the apology
comes only when nothing will mend it.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging

import asyncpg
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application

from backend import metrics
from backend.logs import UPDATE_ID
from backend.services import update_failures
from backend.services.context import ServiceContext
from backend.services.update_failures import MAX_ATTEMPTS, Parked
from backend.storage.database import RETRYABLE, UNAVAILABLE, WORK
from bot.handlers import arrived_as, chat_update, collecting_failures, update_key

log = logging.getLogger(__name__)


class Outcome(enum.Enum):
    DONE = "done"
    RETRY = "retry"
    PARKED = "parked"

    @property
    def confirm(self) -> bool:
        """Whether Telegram may forget the update (a 2xx to the webhook, the offset past it)."""
        return self is not Outcome.RETRY


def update_id_of(data: object) -> int | None:
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if isinstance(update_id, int) and not isinstance(update_id, bool):
        return update_id
    return None


def chat_key(data: dict) -> int | str:
    """Which chat an update belongs to, read from the raw update: one chat's updates (a
    household shares one) must be applied in order; other chats' need not wait for them."""
    for kind in ("message", "edited_message", "my_chat_member", "chat_member"):
        chat = (data.get(kind) or {}).get("chat") if isinstance(data.get(kind), dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return chat["id"]
    query = data.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        chat = message.get("chat") if isinstance(message, dict) else None
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return chat["id"]
        sender = query.get("from")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return sender["id"]
    return f"update:{data.get('update_id')}"  # no chat: a lane of its own


class UpdateProcessor:
    def __init__(self, application: Application, ctx: ServiceContext):
        self.application = application
        self.ctx = ctx

    async def process(self, data: dict) -> Outcome:
        """Process one raw update (a dict with an integer ``update_id``)."""
        update_id = data["update_id"]
        tokens = UPDATE_ID.set(update_id), WORK.set("update")
        try:
            outcome = await self._process(update_id, data)
        finally:
            UPDATE_ID.reset(tokens[0])
            WORK.reset(tokens[1])
        metrics.UPDATES_PROCESSED.labels(outcome.value).inc()
        return outcome

    async def _process(self, update_id: int, data: dict) -> Outcome:
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception as error:  # noqa: BLE001 - any shape Telegram (or a test server) sends
            # It will not parse next time either. Its id only: the content is a message.
            log.warning("update %s cannot be parsed (%s)", update_id, type(error).__name__)
            digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
            return await self._park(Parked(f"{update_id}:unread:{digest}", type(error).__name__))
        # Keyed as it arrived, in processing and in parking alike (a redelivery must match).
        with arrived_as(data):
            with collecting_failures() as failures:
                await self.application.process_update(update)
            if not failures:
                return Outcome.DONE
            return await self._failed(update, update_key(update), failures[-1])

    async def _failed(self, update: Update, key: str, error: BaseException) -> Outcome:
        """Log and count the failure; park the update once it has failed too often.

        Contention (a conflict that outlasted its retries) and a database that is away are
        what redelivery is for: a warning. Anything else is a bug: an error, with its
        traceback (code only: a traceback prints no values)."""
        name = type(error).__name__
        if isinstance(error, UNAVAILABLE):
            log.warning("update %s not committed: database away (%s)", update.update_id, name)
            return Outcome.RETRY  # nothing to count with: Telegram delivers it again later
        try:
            attempts = await update_failures.record_failure(self.ctx, key, name)
        except (*UNAVAILABLE, asyncpg.PostgresError) as failure:
            log.warning("update %s: failure not recorded (%s)", update.update_id, failure)
            return Outcome.RETRY
        if isinstance(error, RETRYABLE):
            log.warning(
                "update %s not committed: it kept conflicting with concurrent work (%s), "
                "attempt %d of %d; it comes again",
                update.update_id,
                name,
                attempts,
                MAX_ATTEMPTS,
            )
        else:
            log.error(
                "error while handling update %s: %s (attempt %d of %d)",
                update.update_id,
                name,
                attempts,
                MAX_ATTEMPTS,
                exc_info=error,
            )
        if attempts < MAX_ATTEMPTS:
            return Outcome.RETRY
        return await self._park(_parked(update, key, error), attempts)

    async def _park(self, parked: Parked, attempts: int = 1) -> Outcome:
        try:
            await update_failures.park(self.ctx, parked, attempts)
        except (*UNAVAILABLE, asyncpg.PostgresError) as failure:
            log.warning("update could not be parked yet (%s)", type(failure).__name__)
            return Outcome.RETRY
        return Outcome.PARKED


def _parked(update: Update, key: str, error: BaseException) -> Parked:
    """Whom to tell "sorry": the person who pressed a button, or wrote in a private chat;
    never a group (a failed command there is for the operator to see, not the whole team)."""
    chat = update.effective_chat
    if update.callback_query is not None:
        return Parked(key, type(error).__name__, chat_update(update), update.callback_query.id)
    if chat is not None and chat.type == ChatType.PRIVATE:
        return Parked(key, type(error).__name__, chat_update(update))
    return Parked(key, type(error).__name__)
