"""What the citizen is told when staff change the case (issue 19), through the real
python-telegram-bot and the loopback Bot API, in English and German: monitoring ended (the
open questionnaire loses its buttons, and /help, /start and typed text then say it ended and
whom to call), resumed, new quarantine dates, another authority; a new prompt makes the
unanswered one above it inert; a round started by staff does not ask again who has answered."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from backend.domain.clock import FixedClock
from backend.services.context import ServiceContext
from backend.services.schedule import close_finished_cases
from bot.sandbox import SandboxBotApi
from tests.test_end_to_end import button_data, has_button
from tests.test_questionnaire_flows import REGION, activated, prompt_for

TEXTS = {
    "en": {
        "closed": "Your health authority has ended your symptom diary",
        "unwell": "In an emergency, call 112.",
        "ended": "Your monitoring has ended",
        "new_link": "open it to start again",
        "reopened": "resumed your symptom diary, until 8 December 2026",
        "dates": "it now runs from 25 November 2026 to 10 December 2026",
        "moved": "Your case is now looked after by Gesundheitsreferat München.",
        "superseded": "This question was replaced by a newer one below.",
        "closed_notice": "This question is closed.",
    },
    "de": {
        "closed": "Ihr Gesundheitsamt hat Ihr Symptomtagebuch beendet",
        "unwell": "Im Notfall rufen Sie die 112.",
        "ended": "Ihr Symptomtagebuch ist beendet",
        "new_link": "um wieder zu beginnen",
        "reopened": "wieder aufgenommen, bis zum 8. Dezember 2026",
        "dates": "vom 25. November 2026 bis zum 10. Dezember 2026",
        "moved": "Ihr Fall wird jetzt betreut von: Gesundheitsreferat München.",
        "superseded": "Diese Frage wurde durch eine neuere weiter unten ersetzt.",
        "closed_notice": "Diese Frage ist geschlossen.",
    },
}
LANGUAGES = [("en", 7301), ("de", 7302)]


def has_text(text: str):
    return lambda message: text in message.get("text", "")


def buttons_of(citizen, message_id: int) -> list:
    (shown,) = [m for m in citizen.messages if m["message_id"] == message_id]
    return shown.get("reply_markup", {}).get("inline_keyboard", [])


@pytest.mark.parametrize(("language", "chat"), LANGUAGES)
async def test_closed_by_staff_the_person_is_told_and_the_buttons_go(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, language: str, chat: int
) -> None:
    text = TEXTS[language]
    case, citizen = await activated(service, headers, bot_api, chat, language=language)
    prompt = await prompt_for(service, headers, citizen)
    await citizen.press(prompt, button_data(prompt, "unwell"))  # half answered, then closed
    checklist = await citizen.wait_for_message(has_button("done"))

    mark = citizen.mark()
    response = await service.post(f"/api/v1/cases/{case['id']}/close", headers=headers)
    assert response.status == 200, await response.text()
    told = await citizen.wait_for_message(has_text(text["closed"]))
    assert text["unwell"] in told["text"]
    cleared = await citizen.wait_for_message(
        lambda m: m["message_id"] == prompt["message_id"], after=mark
    )
    assert cleared.get("reply_markup", {}).get("inline_keyboard", []) == []
    assert buttons_of(citizen, checklist["message_id"]) == []

    # Afterwards every way in says the same: it ended, whom to call, how to start again.
    for command in ("help", "start", "status"):
        await citizen.send_command(command)
        reply = await citizen.wait_for_message()
        assert text["ended"] in reply["text"] and text["unwell"] in reply["text"], command
        assert text["new_link"] in reply["text"]
    await citizen.send_text("hello?")
    assert text["ended"] in (await citizen.wait_for_message())["text"]
    # A stale button (a client that kept it) still answers, and changes nothing.
    query = await citizen.press(checklist, button_data(checklist, "done"))
    assert (await citizen.wait_for_answer(query))["text"] == text["closed_notice"]


@pytest.mark.parametrize(("language", "chat"), LANGUAGES)
async def test_reopened_dates_changed_and_moved_are_told(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, language: str, chat: int
) -> None:
    text = TEXTS[language]
    case, citizen = await activated(service, headers, bot_api, chat + 10, language=language)
    path = f"/api/v1/cases/{case['id']}"
    assert (await service.post(f"{path}/close", headers=headers)).status == 200
    await citizen.wait_for_message(has_text(text["closed"]))

    assert (await service.post(f"{path}/reopen", headers=headers)).status == 200
    reopened = await citizen.wait_for_message(has_text(text["reopened"]))
    assert "09:00" in reopened["text"]  # when the next questions come

    changed = await service.patch(path, json={"quarantine_end": "2026-12-10"}, headers=headers)
    assert changed.status == 200, await changed.text()
    await citizen.wait_for_message(has_text(text["dates"]))
    mark = citizen.mark()
    await service.patch(path, json={"label": "Kind 1"}, headers=headers)  # not about dates
    moved = await service.post(f"{path}/move", json={"region": "de-muenchen"}, headers=headers)
    assert moved.status == 200, await moved.text()
    told = await citizen.wait_for_message(has_text(text["moved"]), after=mark)
    assert told["text"].startswith("Kind 1:")  # a household's message says whom it is about
    # The label change (sent before the move) told nothing: one message about the dates.
    assert sum(text["dates"] in m.get("text", "") for m in citizen.messages) == 1


@pytest.mark.parametrize(("language", "chat"), LANGUAGES)
async def test_a_new_prompt_retires_the_unanswered_one_and_staff_do_not_ask_twice(
    service: TestClient,
    headers: dict,
    bot_api: SandboxBotApi,
    ctx: ServiceContext,
    clock: FixedClock,
    language: str,
    chat: int,
) -> None:
    text = TEXTS[language]
    # A day of its own for each language: a round by staff is once per slot and day.
    clock.advance(timedelta(days=[code for code, _ in LANGUAGES].index(language)))
    _, ignoring = await activated(service, headers, bot_api, chat + 20, language=language)
    answering_case, answering = await activated(
        service, headers, bot_api, chat + 30, language=language
    )
    first = await prompt_for(service, headers, ignoring)
    answered = await answering.wait_for_message(has_button("well"))
    await answering.press(answered, button_data(answered, "well"))
    await answering.wait_for_message(has_button("correct"))

    asked = await service.post(f"/api/v1/regions/{REGION}/rounds", headers=headers)  # staff
    assert asked.status == 202, await asked.text()
    second = await ignoring.wait_for_message(has_button("well"))
    assert second["message_id"] != first["message_id"]
    retired = await ignoring.wait_for_message(lambda m: m["message_id"] == first["message_id"])
    assert retired["text"] == text["superseded"]
    assert buttons_of(ignoring, first["message_id"]) == []
    assert buttons_of(ignoring, second["message_id"]) != []  # the new one is live
    # Who answered this slot is not asked again (one prompt, the first), and staff cannot
    # send the slot's round twice.
    prompts = await ctx.db.fetch(
        "SELECT count(*) AS n FROM prompts WHERE case_id = $1::UUID", answering_case["id"]
    )
    assert prompts[0]["n"] == 1
    again = await service.post(f"/api/v1/regions/{REGION}/rounds", headers=headers)
    assert again.status == 409 and "already" in (await again.json())["detail"]


async def test_the_quarantine_ends_and_the_open_question_goes_with_it(
    service: TestClient,
    headers: dict,
    bot_api: SandboxBotApi,
    ctx: ServiceContext,
    clock: FixedClock,
) -> None:
    _, citizen = await activated(service, headers, bot_api, 7341, language="de")
    prompt = await prompt_for(service, headers, citizen)
    mark = citizen.mark()
    # The quarantine's last day (8 December), an hour after Köln's last prompt time.
    clock.set(datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    assert await close_finished_cases(ctx, REGION) >= 1
    closing = await citizen.wait_for_message(has_text("Ihre Quarantäne endete am 8. Dezember 2026"))
    assert TEXTS["de"]["unwell"] in closing["text"]
    await citizen.wait_for_message(lambda m: m["message_id"] == prompt["message_id"], after=mark)
    assert buttons_of(citizen, prompt["message_id"]) == []
