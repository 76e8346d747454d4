"""Safety first (issue 19): whom to call is said the moment a red-flag symptom is ticked, in the
case's language, on every step until the answer is sent (and after), and not otherwise."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bot.sandbox import SandboxBotApi
from tests.test_end_to_end import button_data, has_button
from tests.test_questionnaire_flows import activated, prompt_for

ADVICE = {
    "en": "If this is severe, call 112 or your doctor now.",
    "de": "Bei starken Beschwerden rufen Sie jetzt die 112",
}


@pytest.mark.parametrize(("language", "chat"), [("en", 7201), ("de", 7202)])
async def test_the_advice_comes_with_the_tick(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, language: str, chat: int
) -> None:
    _, citizen = await activated(service, headers, bot_api, chat, language=language)
    prompt = await prompt_for(service, headers, citizen)
    await citizen.press(prompt, button_data(prompt, "unwell"))
    checklist = await citizen.wait_for_message(has_button("done"))
    assert ADVICE[language] not in checklist["text"]  # nothing to warn about yet
    await citizen.press(checklist, button_data(checklist, "tog:cough"))
    checklist = await citizen.wait_for_message(has_button("done"))
    assert ADVICE[language] not in checklist["text"]  # an ordinary symptom: no alarm
    await citizen.press(checklist, button_data(checklist, "tog:breathless_at_rest"))
    ticked = await citizen.wait_for_message(has_button("done"))
    assert ADVICE[language] in ticked["text"]  # at once, on the checklist itself
    await citizen.press(ticked, button_data(ticked, "tog:breathless_at_rest"))
    unticked = await citizen.wait_for_message(has_button("done"))
    assert ADVICE[language] not in unticked["text"]
    await citizen.press(unticked, button_data(unticked, "tog:chest_pain"))
    ticked = await citizen.wait_for_message(has_button("done"))
    await citizen.press(ticked, button_data(ticked, "done"))
    temperature = await citizen.wait_for_message(has_button("nomeas"))
    assert ADVICE[language] in temperature["text"]  # and on the steps that follow
    await citizen.press(temperature, button_data(temperature, "nomeas"))
    trend = await citizen.wait_for_message(has_button("worse"))
    assert ADVICE[language] in trend["text"]
    await citizen.press(trend, button_data(trend, "worse"))
    note = await citizen.wait_for_message(has_button("skip"))
    await citizen.press(note, button_data(note, "skip"))
    summary = await citizen.wait_for_message(has_button("send"))
    assert ADVICE[language] in summary["text"]
    await citizen.press(summary, button_data(summary, "send"))
    done = await citizen.wait_for_message(has_button("correct"))
    assert done["text"].count(ADVICE[language]) == 1  # the summary's reminder stays, once
