"""Playing users and groups: waiting for the bot, pressing buttons, group membership."""

from __future__ import annotations

import asyncio

import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox import SandboxBotApi, SandboxError


def buttons(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data)] for text, data in pairs]
    )


async def test_user_is_idempotent_per_id(server: SandboxBotApi) -> None:
    ada = server.user(1001, "Ada", "de")
    assert server.user(1001) is ada
    assert server.user(1001, language_code="en").user["language_code"] == "en"
    assert ada.user == {"id": 1001, "is_bot": False, "first_name": "Ada", "language_code": "en"}
    assert ada.chat == {"id": 1001, "type": "private", "first_name": "Ada"}
    assert ada.messages == [] and ada.last_message is None


async def test_wait_sees_replies_that_came_before_the_wait(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    await user.send_text("hi")
    await bot.send_message(1001, "first reply")  # before anyone waits
    await bot.send_message(1001, "second reply")
    assert (await user.wait_for_message())["text"] == "first reply"
    assert (await user.wait_for_message())["text"] == "second reply"
    with pytest.raises(TimeoutError, match="second reply"):
        await user.wait_for_message(timeout=0.05)


async def test_wait_with_mark_and_predicate_sees_edits(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(1001, "Loading…")
    mark = user.mark()
    waiter = asyncio.create_task(
        user.wait_for_message(lambda m: "Done" in m["text"], after=mark, timeout=5)
    )
    await bot.send_message(1001, "unrelated")
    await bot.edit_message_text("Done!", 1001, sent.message_id)
    edited = await waiter
    assert edited["message_id"] == sent.message_id and edited["text"] == "Done!"
    assert "edit_date" in edited
    # The recorded list has the edit applied, in the original order.
    assert [m["text"] for m in user.messages] == ["Done!", "unrelated"]


async def test_press_button_by_text(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(
        1001, "How are you?", reply_markup=buttons(("I feel well", "well"), ("I feel ill", "ill"))
    )
    query = await user.press_button(sent.to_dict(), "I feel well")
    assert query["data"] == "well"
    query = await user.press_button(None, "ill")  # unique substring, newest message with it
    assert query["data"] == "ill"
    with pytest.raises(SandboxError, match="several buttons contain 'I feel'"):
        await user.press_button(sent.to_dict(), "I feel")
    with pytest.raises(SandboxError, match="no button matches"):
        await user.press_button(sent.to_dict(), "Maybe")
    updates = await bot.get_updates()
    assert [u.callback_query.data for u in updates] == ["well", "ill"]
    assert updates[0].callback_query.from_user.id == 1001


async def test_press_after_keyboard_removed_uses_current_state(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(1001, "Q", reply_markup=buttons(("Yes", "yes")))
    await bot.edit_message_reply_markup(1001, sent.message_id)
    with pytest.raises(SandboxError):
        await user.press_button(sent.to_dict(), "Yes")
    # press() replays stale data on purpose, the way an old client could.
    query = await user.press(sent.to_dict(), "yes")
    (update,) = await bot.get_updates()
    assert update.callback_query.id == query["id"]
    assert update.callback_query.message.reply_markup is None


async def test_wait_for_answer(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(1001, "Q", reply_markup=buttons(("Yes", "yes")))
    query = await user.press_button(sent.to_dict(), "Yes")
    waiter = asyncio.create_task(user.wait_for_answer(query))
    await bot.answer_callback_query(query["id"], text="Saved")
    assert (await waiter)["text"] == "Saved"
    with pytest.raises(telegram.error.BadRequest):
        await bot.answer_callback_query(query["id"], text="twice")


async def test_add_bot_to_group_with_start_payload(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    officer = server.user(2001, "Officer")
    group = server.group(chat_id=-1001234567890, title="Gesundheitsamt Mitte")
    with pytest.raises(telegram.error.Forbidden, match="not a member of the supergroup chat"):
        await bot.send_message(group.chat_id, "hello?")
    await server.add_bot_to_group(group, by=officer, start_payload="CODE")
    member, joined, start = await bot.get_updates()
    assert member.my_chat_member.old_chat_member.status == "left"
    assert member.my_chat_member.new_chat_member.status == "member"
    assert member.my_chat_member.new_chat_member.user.id == 123456
    assert member.my_chat_member.from_user.id == 2001
    assert joined.message.new_chat_members[0].username == "SymptomDiarySandboxBot"
    assert start.message.text == "/start@SymptomDiarySandboxBot CODE"
    assert start.message.chat.type == "supergroup"
    assert start.message.entities[0].length == len("/start@SymptomDiarySandboxBot")
    assert start.message.api_kwargs == {} and member.my_chat_member.api_kwargs == {}

    await bot.send_message(group.chat_id, "Linked!")
    assert group.last_message["text"] == "Linked!"
    assert (await group.wait_for_message())["text"] == "Linked!"


async def test_group_privacy_mode(server: SandboxBotApi, bot: telegram.Bot) -> None:
    officer = server.user(2001, "Officer")
    group = server.group(-1001, "Amt")
    await server.add_bot_to_group(group, by=officer, start_payload=None)
    offset = (await bot.get_updates())[-1].update_id + 1
    await officer.send_text("just chatting", chat=group)
    await officer.send_text("/broadcast@OtherBot hi", chat=group)
    await officer.send_text("/broadcast hi", chat=group)
    await officer.send_text("hey @SymptomDiarySandboxBot", chat=group)
    posted = await bot.send_message(group.chat_id, "Reply to me")
    await officer.send_text("a reply", chat=group, reply_to=posted.to_dict())
    texts = [u.message.text for u in await bot.get_updates(offset=offset)]
    assert texts == ["/broadcast hi", "hey @SymptomDiarySandboxBot", "a reply"]
    assert len(group.history) == 7  # service message + 5 user messages + the bot's

    server.remove_bot_from_group(group, by=officer)
    with pytest.raises(telegram.error.Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.chat_id, "still here?")


async def test_misuse_is_reported_clearly(server: SandboxBotApi, bot: telegram.Bot) -> None:
    ada = server.user(1001, "Ada")
    server.user(1002, "Bob")
    server.block_bot(ada)
    with pytest.raises(SandboxError, match="blocked the bot"):
        await ada.send_text("hi")
    sent = await bot.send_message(1002, "for Bob")
    with pytest.raises(SandboxError, match="can't write in private chat 1002"):
        await ada.press(sent.to_dict(), "x")
    with pytest.raises(SandboxError, match="no bot message"):
        await server.user(1002).press({"chat": {"id": 1002}, "message_id": 99}, "x")
