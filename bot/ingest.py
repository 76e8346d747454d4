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
from backend.logs import UPDATE_ID, where_it_failed
from backend.services import update_failures
from backend.services.context import ServiceContext
from backend.services.update_failures import MAX_ATTEMPTS, MAX_TRANSIENT_ATTEMPTS, Parked
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
        what redelivery is for: a warning, and a larger budget before the update is given
        up (``MAX_TRANSIENT_ATTEMPTS``). Anything else is a bug: an error, with where it
        failed (never the error's message, which may quote a value)."""
        name = type(error).__name__
        transient = isinstance(error, (*RETRYABLE, *UNAVAILABLE))
        try:
            attempts = await update_failures.record_failure(self.ctx, key, name)
        except (*UNAVAILABLE, asyncpg.PostgresError) as failure:
            # The database is away: nothing to count with. Telegram delivers it again.
            log.warning(
                "update %s not committed (%s); failure not recorded (%s)",
                update.update_id,
                name,
                type(failure).__name__,
            )
            return Outcome.RETRY
        budget = MAX_TRANSIENT_ATTEMPTS if transient else MAX_ATTEMPTS
        if transient:
            log.warning(
                "update %s not committed (%s: %s), attempt %d of %d; it comes again",
                update.update_id,
                name,
                "conflicts" if isinstance(error, RETRYABLE) else "database away",
                attempts,
                budget,
            )
        else:
            log.error(
                "error while handling update %s (attempt %d of %d): %s",
                update.update_id,
                attempts,
                budget,
                where_it_failed(error),
            )
        if attempts < budget:
            return Outcome.RETRY
        return await self._park(_parked(update, key, error), attempts)

    async def _park(self, parked: Parked, attempts: int = 1) -> Outcome:
        """Park with an apology; if even that fails for a reason other than the database
        being away (the apology's own path may be what is broken), park without one."""
        try:
            await update_failures.park(self.ctx, parked, attempts)
        except (*UNAVAILABLE, *RETRYABLE) as failure:
            log.warning("update could not be parked yet (%s)", type(failure).__name__)
            return Outcome.RETRY
        except Exception as failure:  # noqa: BLE001 - the last resort must not fail too
            if parked.chat is None:
                log.error("update could not be parked: %s", where_it_failed(failure))
                return Outcome.RETRY
            log.error("update parked without an apology: %s", where_it_failed(failure))
            return await self._park(Parked(parked.key, parked.error), attempts)
        return Outcome.PARKED


def _parked(update: Update, key: str, error: BaseException) -> Parked:
    """Whom to tell "sorry": the person who pressed a button, or wrote in a private chat;
    never a group (a failed command there is for the operator to see, not the whole team),
    nor anyone when the update names no chat."""
    chat = update.effective_chat
    if chat is None:
        return Parked(key, type(error).__name__)
    if update.callback_query is not None:
        return Parked(key, type(error).__name__, chat_update(update), update.callback_query.id)
    if chat is not None and chat.type == ChatType.PRIVATE:
        return Parked(key, type(error).__name__, chat_update(update))
    return Parked(key, type(error).__name__)
