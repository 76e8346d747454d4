"""A temperature typed without a unit that only makes sense as °F ("100") is not stored
silently as 37.8 °C: the person is asked once, in their language (issue 19), through the real
python-telegram-bot and the loopback Bot API."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bot.sandbox import SandboxBotApi
from tests.test_end_to_end import button_data, has_button
from tests.test_questionnaire_flows import activated, entries, prompt_for, step

ASKED = {
    "en": (
        "Did you mean 37.8 °C (100 °F)?",
        "I don't feel well",
        "None of these",
        "About the same",
    ),
    "de": ("Meinten Sie 37,8 °C (100 °F)?", "Mir geht es nicht gut", "Nichts davon", "Etwa gleich"),
}


@pytest.mark.parametrize(("language", "chat"), [("en", 7401), ("de", 7402)])
async def test_a_guessed_unit_is_asked_once(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, language: str, chat: int
) -> None:
    question, unwell, no_symptoms, same = ASKED[language]
    case, citizen = await activated(service, headers, bot_api, chat, language=language)
    prompt = await prompt_for(service, headers, citizen)
    checklist = await step(citizen, prompt, unwell, "none")
    await step(citizen, checklist, no_symptoms, "nomeas")

    await citizen.send_text("100")
    asked = await citizen.wait_for_message(has_button("retype"))
    assert question in asked["text"]
    # "No": the question again.
    await citizen.press(asked, button_data(asked, "retype"))
    await citizen.wait_for_message(lambda m: has_button("nomeas")(m) and question not in m["text"])
    await citizen.send_text("100")
    asked = await citizen.wait_for_message(has_button("ok"))
    await citizen.press(asked, button_data(asked, "ok"))
    trend = await citizen.wait_for_message(has_button("worse"))
    note = await step(citizen, trend, same, "skip")
    await citizen.press(note, button_data(note, "skip"))
    summary = await citizen.wait_for_message(has_button("send"))
    assert ("37.8 °C" if language == "en" else "37,8 °C") in summary["text"]
    await citizen.press(summary, button_data(summary, "send"))
    await citizen.wait_for_message(has_button("correct"))
    (entry,) = await entries(service, headers, case)
    assert str(entry["temperature_c"]) == "37.8"


async def test_a_unit_given_is_not_asked(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    _, citizen = await activated(service, headers, bot_api, 7403)
    prompt = await prompt_for(service, headers, citizen)
    checklist = await step(citizen, prompt, "I don't feel well", "none")
    await step(citizen, checklist, "None of these", "nomeas")
    await citizen.send_text("100 °F")
    trend = await citizen.wait_for_message(has_button("worse"))
    assert "Did you mean" not in trend["text"]
