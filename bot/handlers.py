"""Telegram update handlers: translate an update into one service call.

Handlers never reply directly: the service writes replies to the outbox in the same
transaction as the state change, and the sender delivers them.
"""

from __future__ import annotations

import logging

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

from backend.i18n import Catalogs, pick_language
from backend.services import chat_commands, conversation, questionnaire_flow
from backend.services.chat import ChatUpdate
from backend.services.context import ServiceContext
from bot import callbacks
from bot.texts import SORRY

log = logging.getLogger(__name__)


def update_key(update: Update) -> str:
    """The update id plus what identifies its content, so that a redelivery matches and an id
    that Telegram reuses (ids may restart at a random number after a quiet week) does not."""
    if update.callback_query:
        return f"{update.update_id}:q:{update.callback_query.id}"
    message = update.effective_message
    if message:
        sent = int(message.date.timestamp())
        return f"{update.update_id}:m:{message.chat_id}:{message.message_id}:{sent}"
    return str(update.update_id)


def _chat_update(update: Update) -> ChatUpdate:
    user = update.effective_user
    return ChatUpdate(
        key=update_key(update),
        chat_id=update.effective_chat.id,
        telegram_language=user.language_code if user else None,
    )


class Handlers:
    def __init__(self, ctx: ServiceContext, catalogs: Catalogs):
        self.ctx = ctx
        self.catalogs = catalogs

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
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, self.on_text)
        )
        # Unknown commands, stickers, photos, voice...: a short hint, never silence.
        application.add_handler(MessageHandler(private, self.on_anything_else))
        application.add_error_handler(self.on_error)

    def on_command(self, service):  # noqa: ANN001, ANN201 - a handler factory
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            await service(self.ctx, _chat_update(update))

        return handle

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        payload = context.args[0] if context.args else None
        await conversation.start(self.ctx, _chat_update(update), payload)

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await conversation.show_help(self.ctx, _chat_update(update))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await conversation.text(self.ctx, _chat_update(update), update.effective_message.text)

    async def on_anything_else(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await conversation.unknown(self.ctx, _chat_update(update))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        private = query.message is not None and query.message.chat.type == ChatType.PRIVATE
        message_id = query.message.message_id if query.message else None
        # Citizens' buttons live only in private chats; anything else is answered as closed.
        button = callbacks.decode(query.data) if private else None
        chat = _chat_update(update)
        if isinstance(button, callbacks.LanguageButton):
            await chat_commands.choose_language(
                self.ctx, chat, query.id, message_id, button.language
            )
        elif isinstance(button, callbacks.StopButton):
            await chat_commands.confirm_stop(self.ctx, chat, query.id, message_id, button.yes)
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
        """Log first (without message contents), then apologise where we can."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "error while handling update %s: %s",
            update_id,
            type(context.error).__name__,
            exc_info=context.error,
        )
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        user = update.effective_user
        t = self.catalogs.get(
            pick_language(self.catalogs.languages, user.language_code if user else None)
        )
        try:
            if update.callback_query:
                await update.callback_query.answer(t.gettext(SORRY))
            elif update.effective_chat.type == ChatType.PRIVATE:
                await context.bot.send_message(update.effective_chat.id, t.gettext(SORRY))
        except Exception as error:  # the apology is best effort; the error is already logged
            log.warning("could not apologise for update %s: %s", update_id, type(error).__name__)
