"""Every path of the citizen's conversation through the real PTB and the loopback Bot API:
validation errors, change before send, corrections, households, every command and a
language switch in the middle of the questionnaire."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from backend.api.app import CONTEXT
from backend.domain.clock import FixedClock
from backend.server import RUNNING
from backend.services.context import ServiceContext
from bot.sandbox import SandboxBotApi, SandboxUser
from tests.rounds import new_round
from tests.test_end_to_end import has_button
from tests.waiting import eventually

REGION = "de-koeln"


async def activated(
    service: TestClient,
    headers: dict,
    bot_api: SandboxBotApi,
    user_id: int,
    language: str = "en",
    label: str | None = None,
    user: SandboxUser | None = None,
) -> tuple[dict, SandboxUser]:
    response = await service.post(
        "/api/v1/cases",
        json={
            "region": REGION,
            "kind": "contact",
            "quarantine_start": "2026-11-25",
            "quarantine_end": "2026-12-08",
            "language": language,
            "label": label,
        },
        headers=headers,
    )
    case = await response.json()
    code = case["deep_link"].rsplit("=", 1)[1]
    citizen = user or bot_api.user(user_id, f"U{user_id}", language)
    await citizen.send_command("start", code)
    await citizen.wait_for_message()
    return case, citizen


async def prompt_for(service: TestClient, headers: dict, citizen: SandboxUser) -> dict:
    """A new round's prompt, once on the person's screen and its id recorded by the sender:
    a person reads before answering, and the service brings an open question down the chat
    again only once it knows which message shows it (a test typing at once raced that)."""
    await new_round(service, REGION)
    prompt = await citizen.wait_for_message(has_button("well"))
    await eventually(lambda: on_record(service, prompt), "the prompt's id recorded", timeout=15)
    return prompt


async def on_record(service: TestClient, message: dict) -> bool:
    """The sender has written down the id Telegram gave ``message`` (it arrives first)."""
    return await service.app[CONTEXT].db.transaction(
        lambda conn: conn.fetchval(
            "SELECT count(*) > 0 FROM outbox WHERE chat_id = $1 AND sent_message_id = $2",
            message["chat"]["id"],
            message["message_id"],
        )
    )


async def next_slot(service: TestClient, region: str = REGION) -> None:
    """The round of the region's next slot, as its schedule starts it (a round started by
    staff does not ask again whoever answered the current slot)."""
    await new_round(service, region)


def has_data(data: str):
    def match(message: dict) -> bool:
        keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
        return any(button.get("callback_data") == data for row in keyboard for button in row)

    return match


def has_data_prefix(prefix: str):
    def match(message: dict) -> bool:
        keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
        return any(b.get("callback_data", "").startswith(prefix) for row in keyboard for b in row)

    return match


async def entries(service: TestClient, headers: dict, case: dict) -> list[dict]:
    response = await service.get(f"/api/v1/cases/{case['id']}/entries", headers=headers)
    return (await response.json())["entries"]


async def step(citizen: SandboxUser, message: dict, label: str, then: str) -> dict:
    """Press ``label`` and wait for the message to show the button ``then``."""
    await citizen.press_button(message, label)
    return await citizen.wait_for_message(has_button(then))


async def test_every_validation_error_gets_its_own_hint(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case, citizen = await activated(service, headers, bot_api, 7001)
    prompt = await prompt_for(service, headers, citizen)
    await citizen.send_text("I am fine")  # text where a button answers
    assert "buttons under my last question" in (await citizen.wait_for_message())["text"]
    prompt = await citizen.wait_for_message(has_button("well"))  # the question again, below
    checklist = await step(citizen, prompt, "I don't feel well", "done")
    await step(citizen, checklist, "Done", "nomeas")
    for typed, hint in [
        ("warm", "could not read that as a temperature"),
        ("33.5", "33.5 °C is unusual"),
        ("43.5 °C", "43.5 °C is unusual"),
    ]:
        await citizen.send_text(typed)
        assert hint in (await citizen.wait_for_message())["text"]
    await citizen.send_text("37,9")
    trend = await citizen.wait_for_message(has_button("worse"))
    await citizen.send_text("worse")  # typed instead of tapped
    assert "buttons" in (await citizen.wait_for_message())["text"]
    trend = await citizen.wait_for_message(has_button("worse"))
    note = await step(citizen, trend, "About the same", "skip")
    await citizen.send_text("x" * 501)
    assert "at most 500 characters" in (await citizen.wait_for_message())["text"]
    await citizen.send_text("\u200b\u200f")  # nothing visible
    assert "buttons" in (await citizen.wait_for_message())["text"]
    summary = await step(citizen, note, "Skip", "send")
    assert "37.9 °C" in summary["text"] and "About the same" in summary["text"]
    assert await entries(service, headers, case) == []  # nothing stored before "Send"


async def test_change_before_send_and_a_correction_after(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case, citizen = await activated(service, headers, bot_api, 7002)
    prompt = await prompt_for(service, headers, citizen)
    checklist = await step(citizen, prompt, "I don't feel well", "done")
    checklist = await step(citizen, checklist, "Cough", "done")
    await step(citizen, checklist, "Done", "nomeas")
    await citizen.send_text("38.2")
    trend = await citizen.wait_for_message(has_button("worse"))
    note = await step(citizen, trend, "Worse", "skip")
    summary = await step(citizen, note, "Skip", "send")
    # Change: back to the checklist with everything kept; keep the temperature.
    checklist = await step(citizen, summary, "Change", "done")
    assert "✅ Cough" in str(checklist["reply_markup"])
    checklist = await step(citizen, checklist, "Headache", "done")
    temperature = await step(citizen, checklist, "Done", "keep")
    trend = await step(citizen, temperature, "Keep 38.2 °C", "worse")
    note = await step(citizen, trend, "Worse", "skip")
    summary = await step(citizen, note, "Skip", "send")
    assert "Cough and Headache" in summary["text"]
    done = await step(citizen, summary, "Send", "correct")
    (entry,) = await entries(service, headers, case)
    assert entry["symptoms"] == ["cough", "headache"] and entry["corrected_at"] is None

    # A correction later the same day: feeling well after all.
    again = await step(citizen, done, "Correct", "well")
    corrected = await step(citizen, again, "I feel well", "correct")
    assert "Corrected" in corrected["text"]
    (entry,) = await entries(service, headers, case)
    assert entry["feeling_well"] is True and entry["corrected_at"] is not None

    # Once the next prompt has come, the old answer is closed for corrections.
    await next_slot(service)
    await citizen.wait_for_message(has_button("well"))
    query = await citizen.press_button(corrected, "Correct")
    assert (await citizen.wait_for_answer(query))["text"] == "This question is closed."


async def test_a_household_is_asked_in_turn(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    parent_case, parent = await activated(service, headers, bot_api, 7003, label="Mama")
    child_case, _ = await activated(service, headers, bot_api, 7003, label="Kind 1", user=parent)
    assert "Kind 1 is now registered too" in parent.messages[-1]["text"]
    first = await prompt_for(service, headers, parent)
    assert first["text"].startswith("For Mama")
    assert not any(m["text"].startswith("For Kind 1") for m in parent.messages)
    await parent.press_button(first, "I feel well")
    second = await parent.wait_for_message(lambda m: m["text"].startswith("For Kind 1"))
    await step(parent, second, "I feel well", "correct")
    assert len(await entries(service, headers, parent_case)) == 1
    assert len(await entries(service, headers, child_case)) == 1


async def test_status_privacy_help_and_unknown(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    _, citizen = await activated(service, headers, bot_api, 7004)
    await citizen.send_command("status")
    status = (await citizen.wait_for_message())["text"]
    assert "Quarantine day 2 of 14" in status and "no answer yet" in status
    prompt = await prompt_for(service, headers, citizen)
    await step(citizen, prompt, "I feel well", "correct")
    await citizen.send_command("status")
    assert "answered at" in (await citizen.wait_for_message())["text"]
    await citizen.send_command("privacy")
    privacy = (await citizen.wait_for_message())["text"]
    assert "Not your name" in privacy and "30 days" in privacy
    assert "Gesundheitsamt der Stadt Köln" in privacy
    assert "Contact: quarantaene@koeln.example.org" in privacy
    await citizen.send_command("help")
    assert "buttons" in (await citizen.wait_for_message())["text"]
    await citizen.send_command("weather")
    assert "did not understand" in (await citizen.wait_for_message())["text"]


async def test_stop_and_resume(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, ctx: ServiceContext
) -> None:
    case, citizen = await activated(service, headers, bot_api, 7005)
    await citizen.send_command("stop")
    question = await citizen.wait_for_message(has_data_prefix("s:n:"))
    assert "will be told" in question["text"]
    await citizen.press_button(question, "No, continue")
    assert "continue" in (await citizen.wait_for_message())["text"]
    await citizen.send_command("stop")
    question = await citizen.wait_for_message(has_data_prefix("s:y:"))
    await citizen.press_button(question, "Yes, stop the questions")
    assert "no more questions" in (await citizen.wait_for_message())["text"]
    await new_round(service, REGION)
    await citizen.send_command("status")  # whatever the round sent would come before this
    assert "paused" in (await citizen.wait_for_message(lambda m: "paused" in m["text"]))["text"]
    assert not any("How are you today?" in m["text"] for m in citizen.messages)
    prompts = await ctx.db.fetch(
        "SELECT count(*) AS n FROM prompts WHERE case_id = $1::UUID", case["id"]
    )
    assert prompts[0]["n"] == 0  # no prompt was even created for them
    await citizen.send_command("stop")
    assert "already paused" in (await citizen.wait_for_message())["text"]
    await citizen.send_command("resume")
    assert "Welcome back" in (await citizen.wait_for_message())["text"]
    await prompt_for(service, headers, citizen)


def data_of(message: dict, prefix: str) -> str:
    keyboard = message["reply_markup"]["inline_keyboard"]
    return next(
        b["callback_data"] for row in keyboard for b in row if b["callback_data"].startswith(prefix)
    )


async def test_menu_buttons_act_only_on_their_own_menu_and_once(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, ctx: ServiceContext
) -> None:
    case, citizen = await activated(service, headers, bot_api, 7008)
    prompt = await prompt_for(service, headers, citizen)

    async def stopped() -> bool:
        rows = await ctx.db.fetch("SELECT stopped_at FROM cases WHERE id = $1::UUID", case["id"])
        return rows[0]["stopped_at"] is not None

    # Menu data without a menu, or a real menu's data pressed on the prompt: nothing happens.
    await citizen.send_command("stop")
    menu = await citizen.wait_for_message(has_data_prefix("s:n:"))
    await citizen.send_command("language")
    languages = await citizen.wait_for_message(has_data_prefix("l:de:"))
    await service.app[RUNNING].sender.drained()  # the menus' message ids are recorded
    for data in ("s:y", "s:n", "l:de", data_of(menu, "s:y:"), data_of(languages, "l:de:")):
        query = await citizen.press(prompt, data)
        assert (await citizen.wait_for_answer(query))["text"] == "This question is closed.", data
    assert not await stopped()
    await citizen.send_command("status")
    assert "Next questions" in (await citizen.wait_for_message())["text"]
    again = await citizen.wait_for_message(has_button("well"))  # the open question, unchanged
    assert again["text"] == prompt["text"] and again["message_id"] != prompt["message_id"]
    prompt = again

    # Two menus: "Yes" on one answers both; "No" on the other must not say "continue".
    await citizen.send_command("stop")
    second = await citizen.wait_for_message(has_data_prefix("s:n:"))
    await citizen.press_button(second, "Yes, stop the questions")
    await citizen.wait_for_message(lambda m: "no more questions" in m["text"])
    assert await stopped()
    query = await citizen.press(menu, data_of(menu, "s:n:"))
    assert (await citizen.wait_for_answer(query))["text"] == "This question is closed."
    assert not any(m["text"].startswith("Good, the daily") for m in citizen.messages)

    # After /resume, the old "Yes" does not stop again.
    await citizen.send_command("resume")
    assert "Welcome back" in (await citizen.wait_for_message())["text"]
    query = await citizen.press(second, data_of(second, "s:y:"))
    assert (await citizen.wait_for_answer(query))["text"] == "This question is closed."
    assert not await stopped()


async def test_without_a_language_from_staff_the_persons_telegram_language_is_used(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    for user_id, telegram, expected in [(7009, "uk", "uk"), (7010, "xx", "de"), (7011, None, "de")]:
        response = await service.post(
            "/api/v1/cases",
            json={
                "region": REGION,
                "kind": "contact",
                "quarantine_start": "2026-11-25",
                "quarantine_end": "2026-12-08",
            },
            headers=headers,
        )
        case = await response.json()
        assert case["language"] == "de"  # the region's, until the person says otherwise
        citizen = bot_api.user(user_id, "U", telegram)
        await citizen.send_command("start", case["deep_link"].rsplit("=", 1)[1])
        welcome = (await citizen.wait_for_message())["text"]
        assert "/language" in welcome
        response = await service.get(f"/api/v1/cases/{case['id']}", headers=headers)
        assert (await response.json())["language"] == expected, telegram
        assert ("Gesundheitsamt" in welcome) and (
            ("Ласкаво" in welcome) if expected == "uk" else ("Willkommen" in welcome)
        )

    # A language staff gave wins over Telegram's.
    ukrainian = bot_api.user(7012, "U", "uk")
    await activated(service, headers, bot_api, 7012, language="en", user=ukrainian)
    assert "Welcome" in ukrainian.messages[-1]["text"]


async def test_next_questions_follow_the_quarantine_and_the_pause(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    async def register(user_id: int, start: str, end: str) -> SandboxUser:
        response = await service.post(
            "/api/v1/cases",
            json={
                "region": REGION,
                "kind": "contact",
                "quarantine_start": start,
                "quarantine_end": end,
                "language": "en",
            },
            headers=headers,
        )
        citizen = bot_api.user(user_id, "U", "en")
        await citizen.send_command("start", (await response.json())["deep_link"].rsplit("=", 1)[1])
        return citizen

    # It is 26 November, 08:30 in Köln (questions at 09:00).
    later = await register(7013, "2026-11-29", "2026-12-12")
    assert (
        "first questions come on 29 November at 09:00" in (await later.wait_for_message())["text"]
    )

    last_day = await register(7014, "2026-11-13", "2026-11-26")
    assert "today at 09:00" in (await last_day.wait_for_message())["text"]
    clock.advance(timedelta(hours=1))
    prompt = await prompt_for(service, headers, last_day)
    done = await step(last_day, prompt, "I feel well", "correct")
    assert "That was the last one" in done["text"] and "tomorrow" not in done["text"]
    await last_day.send_command("help")
    assert "No more questions are planned" in (await last_day.wait_for_message())["text"]

    await later.send_command("stop")
    await later.press_button(await later.wait_for_message(has_data_prefix("s:y:")), "Yes, stop")
    await later.wait_for_message(lambda m: "no more questions" in m["text"])
    await later.send_command("help")
    assert "paused. Type /resume" in (await later.wait_for_message())["text"]
    await later.send_command("resume")
    assert "on 29 November at 09:00" in (await later.wait_for_message())["text"]


async def test_a_red_flag_answer_says_whom_to_call_now(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    _, citizen = await activated(service, headers, bot_api, 7015)
    prompt = await prompt_for(service, headers, citizen)
    checklist = await step(citizen, prompt, "I don't feel well", "done")
    checklist = await step(citizen, checklist, "Short of breath at rest", "done")
    temperature = await step(citizen, checklist, "Done", "nomeas")
    trend = await step(citizen, temperature, "Not measured", "worse")
    note = await step(citizen, trend, "Worse", "skip")
    summary = await step(citizen, note, "Skip", "send")
    done = await step(citizen, summary, "Send", "correct")
    assert "call 112 or your doctor now" in done["text"]

    _, well = await activated(service, headers, bot_api, 7016)
    prompt = await prompt_for(service, headers, well)
    done = await step(well, prompt, "I feel well", "correct")
    assert "112" not in done["text"]


async def test_switching_language_in_the_middle_of_the_questionnaire(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case, citizen = await activated(service, headers, bot_api, 7006, language="en")
    prompt = await prompt_for(service, headers, citizen)
    checklist = await step(citizen, prompt, "I don't feel well", "done")
    await citizen.send_command("language")
    menu = await citizen.wait_for_message(has_data_prefix("l:de:"))
    names = [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row]
    assert {"Deutsch", "Türkçe", "Українська", "العربية", "Polski"} <= {
        n.removeprefix("✅ ") for n in names
    }
    await citizen.press_button(menu, "Deutsch")
    redrawn = await citizen.wait_for_message(
        lambda m: m["message_id"] == checklist["message_id"] and "Husten" in str(m)
    )
    assert "Welche Symptome" in redrawn["text"]
    # The questionnaire goes on, in German, with the decimal comma.
    await step(citizen, redrawn, "Fertig", "nomeas")
    await citizen.send_text("38,5")
    trend = await citizen.wait_for_message(has_button("worse"))
    assert "gestern" in trend["text"]
    response = await service.get(f"/api/v1/cases/{case['id']}", headers=headers)
    assert (await response.json())["language"] == "de"


async def test_unregistered_people_cannot_use_monitoring_commands(
    service: TestClient, bot_api: SandboxBotApi
) -> None:
    stranger = bot_api.user(7007, "S", "tr")
    await stranger.send_command("status")
    assert (await stranger.wait_for_message())["text"]  # a hint in Turkish, not silence
    await stranger.send_command("privacy")
    assert "{" not in (await stranger.wait_for_message())["text"]
