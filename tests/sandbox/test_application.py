"""A real PTB Application polling the sandbox: the way the bot's own tests will use it."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import SandboxBotApi


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    payload = " ".join(context.args or [])
    name = update.effective_user.first_name
    await update.effective_message.reply_html(
        f"Hallo <b>{name}</b>! Code: {payload or '-'}",
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Mir geht es gut", callback_data="well")],
                [InlineKeyboardButton("Ich habe Symptome", callback_data="ill")],
            ]
        ),
    )


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Gespeichert")
    await query.edit_message_text(f"Antwort: {query.data}")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(update.effective_message.text.upper())


async def test_application_conversation_over_polling(server: SandboxBotApi) -> None:
    app = ApplicationBuilder().token(server.token).base_url(server.base_url).job_queue(None).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    ada = server.user(1001, "Ada", "de")
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=10)
        try:
            await ada.send_command("start", "ABC123")
            greeting = await ada.wait_for_message()
            assert greeting["text"] == "Hallo Ada! Code: ABC123"
            assert greeting["entities"] == [{"type": "bold", "offset": 6, "length": 3}]
            assert ada.records[-1].raw_text == "Hallo <b>Ada</b>! Code: ABC123"

            query = await ada.press_button(greeting, "gut")
            edited = await ada.wait_for_message(lambda m: m["text"].startswith("Antwort"))
            assert edited["text"] == "Antwort: well"
            assert edited["message_id"] == greeting["message_id"]
            assert (await ada.wait_for_answer(query))["text"] == "Gespeichert"

            await ada.send_text("fieber")
            assert (await ada.wait_for_message())["text"] == "FIEBER"
        finally:
            await app.updater.stop()
            await app.stop()
    methods = [method for method, _ in server.calls]
    assert "deleteWebhook" in methods  # PTB's polling bootstrap
    assert methods.count("sendMessage") == 2
