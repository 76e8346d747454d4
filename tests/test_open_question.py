"""The open question follows the person down the chat: after /start, /help, /status or text
where a button answers, today's step is sent again below (its old copy loses its buttons and
answers "closed"), a language switch redraws it wherever it is, and /resume without a pause
says so. Through the real PTB and the loopback Bot API server."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from backend.server import RUNNING
from bot.sandbox import SandboxBotApi, SandboxUser
from tests.test_end_to_end import button_data, has_button
from tests.test_questionnaire_flows import activated, entries, has_data_prefix, prompt_for, step

CLOSED = "This question is closed."


def shown(citizen: SandboxUser, message: dict) -> dict:
    """``message`` as it is on the phone now."""
    return next(m for m in citizen.messages if m["message_id"] == message["message_id"])


def keyboard(message: dict) -> list:
    return (message.get("reply_markup") or {}).get("inline_keyboard") or []


async def test_commands_and_stray_text_bring_the_open_step_down(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case, citizen = await activated(service, headers, bot_api, 7101)
    prompt = await prompt_for(service, headers, citizen)
    checklist = await step(citizen, prompt, "I don't feel well", "done")
    checklist = await step(citizen, checklist, "Cough", "done")
    copies = [checklist]
    for send, reply in [
        (lambda: citizen.send_command("status"), "Quarantine day 2 of 14"),
        (lambda: citizen.send_command("help"), "buttons"),
        (lambda: citizen.send_command("start"), "You are registered"),
        (lambda: citizen.send_text("fine, thanks"), "buttons under my last question"),
    ]:
        await send()
        assert reply in (await citizen.wait_for_message())["text"]  # the usual answer first
        again = await citizen.wait_for_message(has_button("done"))
        assert again["message_id"] not in [c["message_id"] for c in copies]
        assert again["text"] == checklist["text"] and "✅ Cough" in str(again["reply_markup"])
        copies.append(again)
        # Until the sender has recorded the copy as sent it counts as queued, and a queued
        # step is not sent a second time: let the record land before the next command.
        await service.app[RUNNING].sender.drained()
    await service.app[RUNNING].sender.drained()
    assert all(keyboard(shown(citizen, old)) == [] for old in copies[:-1])

    # The old copies' buttons (pressed before they were cleared) change nothing.
    for old in copies[:-1]:
        for data in (button_data(checklist, "done"), button_data(checklist, "fever")):
            query = await citizen.press(old, data)
            assert (await citizen.wait_for_answer(query))["text"] == CLOSED
    # The newest copy goes on from the same answers, edited in place.
    newest = copies[-1]
    temperature = await step(citizen, newest, "Done", "nomeas")
    assert temperature["message_id"] == newest["message_id"]
    await service.app[RUNNING].sender.drained()  # the edit is recorded: nothing is queued
    await citizen.send_command("help")
    await citizen.wait_for_message(lambda m: "buttons" in m["text"])
    temperature = await citizen.wait_for_message(has_button("nomeas"))
    # A typed answer now takes the buttons off that newest copy (found by its outbox row).
    await citizen.send_text("37.9")
    trend = await citizen.wait_for_message(has_button("worse"))
    await service.app[RUNNING].sender.drained()
    assert keyboard(shown(citizen, temperature)) == []
    await step(citizen, trend, "Better", "skip")
    assert await entries(service, headers, case) == []


async def test_an_old_copy_cannot_answer_twice(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case, citizen = await activated(service, headers, bot_api, 7102)
    prompt = await prompt_for(service, headers, citizen)
    await citizen.send_command("status")
    again = await citizen.wait_for_message(has_button("well"))
    await service.app[RUNNING].sender.drained()  # the new copy's message id is recorded
    query = await citizen.press(prompt, button_data(prompt, "well"))
    assert (await citizen.wait_for_answer(query))["text"] == CLOSED
    assert await entries(service, headers, case) == []
    done = await step(citizen, again, "I feel well", "correct")
    assert done["message_id"] == again["message_id"]
    for message in (prompt, again):
        query = await citizen.press(message, button_data(prompt, "well"))
        assert (await citizen.wait_for_answer(query))["text"] in (
            CLOSED,
            "Your answer is already recorded. Thank you!",
        )
    assert len(await entries(service, headers, case)) == 1
    # Once answered, a command brings nothing down: there is no open question.
    await citizen.send_command("status")
    assert "answered at" in (await citizen.wait_for_message())["text"]
    await service.app[RUNNING].sender.drained()
    assert citizen.messages[-1]["message_id"] != done["message_id"]
    assert not has_button("correct")(citizen.messages[-1])


async def test_a_language_switch_redraws_a_prompt_not_yet_pressed(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    _, citizen = await activated(service, headers, bot_api, 7103)
    prompt = await prompt_for(service, headers, citizen)
    await citizen.send_command("language")
    await citizen.press_button(await citizen.wait_for_message(has_data_prefix("l:de:")), "Deutsch")
    redrawn = await citizen.wait_for_message(
        lambda m: m["message_id"] == prompt["message_id"] and "Wie geht es" in m["text"]
    )
    assert has_button("well")(redrawn)

    # A copy sent again (its id known only from the sender's record) is redrawn too.
    await citizen.send_command("help")
    again = await citizen.wait_for_message(has_button("well"))
    assert again["message_id"] != prompt["message_id"]
    await service.app[RUNNING].sender.drained()
    await citizen.send_command("language")
    await citizen.press_button(await citizen.wait_for_message(has_data_prefix("l:pl:")), "Polski")
    polish = await citizen.wait_for_message(
        lambda m: m["message_id"] == again["message_id"] and "Jak dziś" in m["text"]
    )
    assert has_button("well")(polish)
    assert keyboard(shown(citizen, prompt)) == []  # the first copy stays without buttons


async def test_resume_without_a_pause_says_the_questions_go_on(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    _, citizen = await activated(service, headers, bot_api, 7104)
    await citizen.send_command("resume")
    reply = (await citizen.wait_for_message())["text"]
    assert "already getting the daily questions" in reply and "Welcome back" not in reply
    assert "today at 09:00" in reply
