"""What a citizen types is stored safely (issue 19): control characters (a NUL, which
PostgreSQL refuses in text and JSON and which failed the update at every delivery), line
breaks and tabs become single spaces in a note; the answer is kept."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from backend.domain.questionnaire import one_line
from bot.sandbox import SandboxBotApi
from tests.test_end_to_end import button_data, has_button
from tests.test_questionnaire_flows import activated, entries, prompt_for

NOTE = "Kopf\x00schmerz\n seit\tgestern \x07"
STORED = "Kopf schmerz seit gestern"


def test_one_line_keeps_what_can_be_read() -> None:
    # An unpaired surrogate cannot come from Telegram (its JSON is UTF-8), but the rule is
    # about what can be stored, whoever typed it.
    assert one_line(NOTE + "\ud83d") == STORED
    assert one_line("Fieber 😀 مرحبا") == "Fieber 😀 مرحبا"
    assert one_line("\x00\x01\n") == ""


@pytest.mark.parametrize(("language", "chat"), [("en", 7301), ("de", 7302)])
async def test_a_note_with_control_characters_is_kept_cleaned(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, language: str, chat: int
) -> None:
    case, citizen = await activated(service, headers, bot_api, chat, language=language)
    prompt = await prompt_for(service, headers, citizen)
    await citizen.press(prompt, button_data(prompt, "unwell"))
    checklist = await citizen.wait_for_message(has_button("done"))
    await citizen.press(checklist, button_data(checklist, "none"))
    temperature = await citizen.wait_for_message(has_button("nomeas"))
    await citizen.press(temperature, button_data(temperature, "nomeas"))
    trend = await citizen.wait_for_message(has_button("same"))
    await citizen.press(trend, button_data(trend, "same"))
    await citizen.wait_for_message(has_button("skip"))
    await citizen.send_text(NOTE)
    summary = await citizen.wait_for_message(has_button("send"))
    assert STORED in summary["text"]
    await citizen.press(summary, button_data(summary, "send"))
    await citizen.wait_for_message(has_button("correct"))
    assert [entry["note"] for entry in await entries(service, headers, case)] == [STORED]
