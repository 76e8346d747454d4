"""Bot API methods through the real PTB Bot over HTTP: shapes and round trips."""

from __future__ import annotations

import telegram
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from telegram.constants import ParseMode

from bot.sandbox import SandboxBotApi


def keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=label.lower())] for label in labels]
    )


async def test_get_me_has_telegram_shape(server: SandboxBotApi, bot: telegram.Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot is True
    assert me.username == "SymptomDiarySandboxBot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    assert me.can_connect_to_business is False
    assert me.has_main_web_app is False
    assert me.api_kwargs == {}  # no field PTB does not know
    assert bot.username == "SymptomDiarySandboxBot"


async def test_send_message_becomes_ptb_message(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada", "de")
    sent = await bot.send_message(
        1001,
        "How do you feel today?",
        reply_markup=keyboard("Well", "Unwell"),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert sent.message_id == 1
    assert sent.chat.id == 1001 and sent.chat.type == "private" and sent.chat.first_name == "Ada"
    assert sent.from_user.id == 123456 and sent.from_user.is_bot
    assert sent.text == "How do you feel today?"
    assert sent.link_preview_options.is_disabled is True
    assert sent.reply_markup.inline_keyboard[1][0].callback_data == "unwell"
    assert isinstance(sent.date.timestamp(), float)
    assert sent.api_kwargs == {} and sent.chat.api_kwargs == {} and sent.from_user.api_kwargs == {}

    recorded = user.last_message
    assert recorded is not None
    assert recorded["text"] == "How do you feel today?"
    assert isinstance(recorded["date"], int)
    assert [m["message_id"] for m in user.messages] == [1]
    second = await bot.send_message(1001, "Second")
    assert second.message_id == 2


async def test_html_text_is_stored_plain_with_entities(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    raw = '  <b>Fever</b> &amp; <a href="https://example.org">info</a> for Ada 👋 <i>now</i> '
    sent = await bot.send_message(1001, raw, parse_mode=ParseMode.HTML)
    assert sent.text == "Fever & info for Ada 👋 now"
    kinds = [(e.type, e.offset, e.length) for e in sent.entities]
    # The emoji counts two UTF-16 units, so "now" starts at 24, not 23.
    assert kinds == [("bold", 0, 5), ("text_link", 8, 4), ("italic", 24, 3)]
    assert sent.parse_entities()[sent.entities[2]] == "now"
    record = user.records[-1]
    assert record.raw_text == raw
    assert record.parse_mode == "HTML"


async def test_edit_message_text_and_markup(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(1001, "Question", reply_markup=keyboard("Yes", "No"))
    edited = await bot.edit_message_text(
        "Question (answered)", chat_id=1001, message_id=sent.message_id
    )
    assert isinstance(edited, telegram.Message)
    assert edited.text == "Question (answered)"
    assert edited.edit_date is not None
    # Telegram drops the keyboard when an edit does not repeat it.
    assert edited.reply_markup is None
    assert user.messages[-1]["text"] == "Question (answered)"
    assert "reply_markup" not in user.messages[-1]

    with_buttons = await bot.edit_message_reply_markup(
        chat_id=1001, message_id=sent.message_id, reply_markup=keyboard("Again")
    )
    assert with_buttons.reply_markup.inline_keyboard[0][0].text == "Again"
    assert len(user.messages) == 1


async def test_send_document_and_photo_are_multipart(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_document(
        1001,
        InputFile(b"date;fever\n2024-01-01;no\n", filename="diary.csv"),
        caption="<b>Your</b> diary",
        parse_mode=ParseMode.HTML,
    )
    assert sent.document.file_name == "diary.csv"
    assert sent.document.file_size == 25
    assert sent.caption == "Your diary"
    assert sent.caption_entities[0].type == "bold"
    assert sent.api_kwargs == {} and sent.document.api_kwargs == {}
    method, params = server.calls[-1]
    assert method == "sendDocument"
    assert params["document"]["filename"] == "diary.csv"

    again = await bot.send_document(1001, sent.document.file_id)
    assert again.document.file_id == sent.document.file_id

    photo = await bot.send_photo(1001, InputFile(b"\x89PNG fake", filename="chart.png"))
    assert photo.photo[0].file_size == 9
    assert [("document" in m, "photo" in m) for m in user.messages] == [
        (True, False),
        (True, False),
        (False, True),
    ]


async def test_reply_parameters_and_reply_keyboard(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    question = await user.send_text("Is this normal?")
    answer = await bot.send_message(
        1001,
        "Yes.",
        reply_parameters=ReplyParameters(question["message_id"]),
        reply_markup=ReplyKeyboardMarkup([["Fine", "Not fine"]]),
    )
    assert answer.reply_to_message.text == "Is this normal?"
    assert answer.reply_markup is None  # reply keyboards are not echoed in the message
    assert user.reply_keyboard == {"keyboard": [[{"text": "Fine"}, {"text": "Not fine"}]]}
    await bot.send_message(1001, "ok", reply_markup=ReplyKeyboardRemove())
    assert user.reply_keyboard is None


async def test_answer_callback_query_and_delete(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(1001, "Feeling?", reply_markup=keyboard("Well"))
    query = await user.press_button(sent.to_dict(), "Well")
    (update,) = await bot.get_updates()
    callback = update.callback_query
    assert callback.id == query["id"]
    assert isinstance(callback.chat_instance, str)
    assert callback.data == "well"
    assert callback.message.message_id == sent.message_id
    assert callback.api_kwargs == {} and callback.message.api_kwargs == {}
    assert await callback.answer("Thanks!", show_alert=True) is True
    assert user.callback_answers[-1]["text"] == "Thanks!"
    assert user.callback_answers[-1]["show_alert"] is True

    assert await bot.delete_message(1001, sent.message_id) is True
    assert user.messages == []


async def test_commands_per_scope_and_language(server: SandboxBotApi, bot: telegram.Bot) -> None:
    german = [BotCommand("start", "Anmelden"), BotCommand("help", "Hilfe")]
    await bot.set_my_commands(german, scope=BotCommandScopeAllPrivateChats(), language_code="de")
    await bot.set_my_commands(
        [BotCommand("broadcast", "Send to all")], scope=BotCommandScopeChat(-1001)
    )
    assert server.commands[("all_private_chats", "de")] == [
        {"command": "start", "description": "Anmelden"},
        {"command": "help", "description": "Hilfe"},
    ]
    assert ("chat:-1001", "") in server.commands
    got = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="de")
    assert [c.command for c in got] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="de")
    assert ("all_private_chats", "de") not in server.commands


async def test_get_chat_leave_chat_close(server: SandboxBotApi, bot: telegram.Bot) -> None:
    ada = server.user(1001, "Ada")
    group = server.group(-1001234567890, "Gesundheitsamt Mitte")
    await server.add_bot_to_group(group, by=ada)
    info = await bot.get_chat(-1001234567890)
    assert info.title == "Gesundheitsamt Mitte" and info.type == "supergroup"
    assert info.api_kwargs == {}
    assert (await bot.get_chat(1001)).first_name == "Ada"
    assert await bot.leave_chat(-1001234567890) is True
    assert group.state.bot_status == "left"
    assert await bot.close() is True
    assert await bot.log_out() is True
    assert server.stats["getChat"] == 2
