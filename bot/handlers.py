"""Telegram update handlers: translate an update into one service call.

Handlers never reply directly: the service writes replies to the outbox in the same
transaction as the state change, and the sender delivers them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from backend.services import authority_chat, chat_commands, conversation, questionnaire_flow
from backend.services.chat import ChatUpdate
from backend.services.context import ServiceContext
from bot import callbacks

log = logging.getLogger(__name__)


def update_key(update: Update) -> str:
    """The update id plus a hash of the whole update, so that a redelivery (the same update,
    byte for byte in meaning) matches and a reused id does not: Telegram may restart ids after
    a quiet week, and a restarted Bot API server may number from 1 again while our database
    remembers the old updates. Message ids and callback query ids can repeat then as well, so
    only the whole content tells a new update from an old one.

    Hashed from the update as it arrived (bot.ingest sets it, ``key_of``): turning the parsed
    update back into a dict cost a twentieth of the service's time at the morning peak."""
    arrived = _ARRIVED.get()
    if arrived is not None and arrived[0] == update.update_id:
        return arrived[1]
    return key_of(update.to_dict())


def key_of(data: dict) -> str:
    """``update_key`` of an update as Telegram sent it (a dict with its ``update_id``)."""
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{data['update_id']}:{digest}"


@contextlib.contextmanager
def arrived_as(data: dict) -> Iterator[None]:
    """Handlers of the update processed in this block key it by ``data``, as it arrived."""
    token = _ARRIVED.set((data["update_id"], key_of(data)))
    try:
        yield
    finally:
        _ARRIVED.reset(token)


_ARRIVED: ContextVar[tuple[int, str] | None] = ContextVar("update_arrived", default=None)


def chat_update(update: Update) -> ChatUpdate:
    user = update.effective_user
    return ChatUpdate(
        key=update_key(update),
        chat_id=update.effective_chat.id,
        telegram_language=user.language_code if user else None,
    )


class Handlers:
    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def register(self, application: Application) -> None:
        private = filters.ChatType.PRIVATE
        commands = {
            "start": self.on_start,
            "help": self.on_help,
            "status": self.on_command(chat_commands.status),
            "language": self.on_command(chat_commands.language_menu),
            "privacy": self.on_command(chat_commands.privacy),
            "stop": self.on_command(chat_commands.stop),
            "resume": self.on_command(chat_commands.resume),
        }
        for name, handler in commands.items():
            application.add_handler(CommandHandler(name, handler, filters=private))
        application.add_handler(CommandHandler("link", self.on_link, filters=private))
        groups = filters.ChatType.GROUPS
        application.add_handler(CommandHandler("start", self.on_group_start, filters=groups))
        application.add_handler(
            CommandHandler("broadcast", self.on_group_broadcast, filters=groups)
        )
        application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migrate))
        application.add_handler(
            MessageHandler(
                groups & filters.REPLY & filters.TEXT & ~filters.COMMAND, self.on_group_reply
            )
        )
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.on_text)
        )
        # Unknown commands, stickers, photos, voice...: a short hint, never silence.
        application.add_handler(MessageHandler(private, self.on_anything_else))
        application.add_error_handler(self.on_error)

    def on_command(self, service):  # noqa: ANN001, ANN201 - a handler factory
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await service(self.ctx, chat_update(update))

        return handle

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payload = context.args[0] if context.args else None
        if payload and payload.startswith("staff_"):  # a staff member linking their account
            await authority_chat.link_staff_account(
                self.ctx, chat_update(update), update.effective_user.id, payload
            )
            return
        await conversation.start(self.ctx, chat_update(update), payload)

    async def on_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        code = context.args[0] if context.args else ""
        await authority_chat.link_staff_account(
            self.ctx, chat_update(update), update.effective_user.id, code
        )

    async def on_group_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``?startgroup=<code>``: Telegram sends ``/start@bot <code>`` into the group."""
        if context.args:
            user = update.effective_user
            await authority_chat.bind_group(
                self.ctx, chat_update(update), user.id if user else None, context.args[0]
            )

    async def on_group_broadcast(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.effective_message.text or ""
        notice = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
        user = update.effective_user
        await authority_chat.broadcast_preview(
            self.ctx, chat_update(update), user.id if user else None, notice
        )

    async def on_group_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reply to the bot's "add a comment" message resolves that alert."""
        message = update.effective_message
        replied = message.reply_to_message
        if not replied or not replied.from_user or replied.from_user.id != context.bot.id:
            return
        markup = replied.reply_markup
        buttons = [b for row in (markup.inline_keyboard if markup else ()) for b in row]
        for button in buttons:
            decoded = callbacks.decode(button.callback_data)
            if isinstance(decoded, callbacks.AlertButton) and decoded.action == "n":
                await authority_chat.resolve_with_comment(
                    self.ctx,
                    chat_update(update),
                    update.effective_user.id,
                    decoded.escalation_id,
                    replied.message_id,
                    message.text,
                )
                return

    async def on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message.migrate_to_chat_id:
            await authority_chat.group_migrated(
                self.ctx, message.chat_id, message.migrate_to_chat_id
            )

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await conversation.show_help(self.ctx, chat_update(update))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await conversation.text(self.ctx, chat_update(update), update.effective_message.text)

    async def on_anything_else(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await conversation.unknown(self.ctx, chat_update(update))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        private = query.message is not None and query.message.chat.type == ChatType.PRIVATE
        message_id = query.message.message_id if query.message else None
        button = callbacks.decode(query.data)
        chat = chat_update(update)
        if not private and isinstance(button, callbacks.AlertButton):
            await authority_chat.alert_button(
                self.ctx,
                chat,
                query.from_user.id,
                query.id,
                message_id,
                button.escalation_id,
                button.action,
            )
            return
        if not private and isinstance(button, callbacks.BroadcastButton):
            await authority_chat.broadcast_decision(
                self.ctx,
                chat,
                query.from_user.id,
                query.id,
                message_id,
                button.draft_id,
                button.send,
            )
            return
        if not private:
            button = None  # citizens' buttons live only in private chats
        if isinstance(button, callbacks.LanguageButton):
            await chat_commands.choose_language(
                self.ctx, chat, query.id, message_id, button.menu_id, button.language
            )
        elif isinstance(button, callbacks.StopButton):
            await chat_commands.confirm_stop(
                self.ctx, chat, query.id, message_id, button.menu_id, button.yes
            )
        else:
            question = button if isinstance(button, callbacks.QuestionButton) else None
            await questionnaire_flow.press(
                self.ctx,
                chat,
                query_id=query.id,
                message_id=message_id,
                prompt_id=question.prompt_id if question else None,
                action=question.action if question else "",
                arg=question.arg if question else None,
            )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Hand the error to bot.ingest, which logs it and decides: the update is delivered
        again, or parked with an apology. PTB gives a handler's exception to this error
        handler, not to the caller of ``process_update``."""
        failures = _FAILURES.get()
        if failures is not None and context.error is not None:
            failures.append(context.error)
            return
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(  # not from bot.ingest: nobody else will see it
            "error while handling update %s: %s",
            update_id,
            type(context.error).__name__,
            exc_info=context.error,
        )


# The errors of the update being processed (bot.ingest reads them after process_update).
_FAILURES: ContextVar[list[BaseException] | None] = ContextVar("update_failures", default=None)


@contextlib.contextmanager
def collecting_failures() -> Iterator[list[BaseException]]:
    """The errors that handlers raise for the update processed inside this block."""
    failures: list[BaseException] = []
    token = _FAILURES.set(failures)
    try:
        yield failures
    finally:
        _FAILURES.reset(token)
