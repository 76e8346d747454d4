"""The sender's lean Bot API calls put on the wire exactly what PTB's own methods put there,
and Telegram's errors come back as the same PTB exceptions (bot/bot_calls.py)."""

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from bot import bot_calls
from bot.render import UnknownMessage
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y:1")]])


def last_call(bot_api: SandboxBotApi) -> tuple[str, dict]:
    return bot_api.calls[-1]


async def test_the_same_parameters_as_ptbs_methods(bot_api: SandboxBotApi) -> None:
    bot_api.user(7101, "P", "en")
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        sent = await bot.send_message(
            chat_id=7101, text="Hallo", reply_markup=KEYBOARD, allow_paid_broadcast=True
        )
        ptb = last_call(bot_api)
        answer = await bot_calls.call(
            bot,
            "sendMessage",
            {"chat_id": 7101, "text": "Hallo", "reply_markup": KEYBOARD},
        )
        assert bot_calls.message_id(answer) == sent.message_id + 1
        lean_without_paid = last_call(bot_api)
        await bot_calls.call(
            bot,
            "sendMessage",
            {
                "chat_id": 7101,
                "text": "Hallo",
                "reply_markup": KEYBOARD,
                "allow_paid_broadcast": True,
            },
        )
        assert last_call(bot_api) == ptb
        assert lean_without_paid[1] == {
            k: v for k, v in ptb[1].items() if k != "allow_paid_broadcast"
        }

        edits = [
            (
                "editMessageText",
                {
                    "chat_id": 7101,
                    "message_id": sent.message_id,
                    "text": "Neu",
                    "reply_markup": KEYBOARD,
                },
                lambda p: bot.edit_message_text(**p),
            ),
            (
                "editMessageReplyMarkup",
                {"chat_id": 7101, "message_id": sent.message_id, "reply_markup": None},
                lambda p: bot.edit_message_reply_markup(**p),
            ),
        ]
        for method, params, ptb_method in edits:
            await ptb_method(params)
            ptb = last_call(bot_api)
            with pytest.raises(BadRequest, match="not modified"):  # the same edit again
                await bot_calls.call(bot, method, params)
            assert last_call(bot_api) == ptb, method
        edited = await bot_calls.call(
            bot, "editMessageText", {"chat_id": 7101, "message_id": sent.message_id, "text": "3"}
        )
        assert bot_calls.message_id(edited) == sent.message_id


async def test_a_callback_answer_without_text_drops_the_none(bot_api: SandboxBotApi) -> None:
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        for call in (
            lambda: bot.answer_callback_query(callback_query_id="q1", text=None),
            lambda: bot_calls.call(
                bot, "answerCallbackQuery", {"callback_query_id": "q1", "text": None}
            ),
        ):
            with pytest.raises(BadRequest):  # the sandbox knows no query "q1"
                await call()
        ptb, lean = bot_api.calls[-2:]
        assert lean == ptb and "text" not in lean[1]


async def test_telegrams_errors_are_ptbs_exceptions(bot_api: SandboxBotApi) -> None:
    blocked = bot_api.user(7102, "Blocked", "en")
    bot_api.block_bot(blocked)
    officer = bot_api.user(7103, "Officer", "en")
    group = bot_api.group(-4_710_001, title="Amt")
    await bot_api.add_bot_to_group(group, by=officer)
    bot_api.migrate_group(group, -1_004_710_001, by=officer)
    async with Bot(BOT_TOKEN, base_url=bot_api.base_url) as bot:
        with pytest.raises(Forbidden):
            await bot_calls.call(bot, "sendMessage", {"chat_id": 7102, "text": "x"})
        with pytest.raises(ChatMigrated) as migrated:
            await bot_calls.call(bot, "sendMessage", {"chat_id": -4_710_001, "text": "x"})
        assert migrated.value.new_chat_id == -1_004_710_001
        bot_api.fail_next("sendMessage", error_code=429, retry_after=3)
        with pytest.raises(RetryAfter):
            await bot_calls.call(bot, "sendMessage", {"chat_id": 7103, "text": "x"})
        with pytest.raises(UnknownMessage):
            await bot_calls.call(bot, "sendPhoto", {"chat_id": 7103})
