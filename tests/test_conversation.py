"""The citizen's conversation through the real PTB and the loopback Bot API server: activation
edge cases, garbage input, forged, stale and double-tapped buttons. Every bad input gets a clear
answer, nothing escapes as an exception, and nothing is stored that should not be."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from aiohttp.test_utils import TestClient

from backend.domain.clock import FixedClock
from backend.services.context import ServiceContext
from backend.services.rounds import start_round
from bot.callbacks import encode_question
from bot.sandbox import SandboxBotApi, SandboxUser
from tests.rounds import new_round
from tests.test_end_to_end import button_data, has_button

UNREGISTERED = "please open the personal link"


async def register(service: TestClient, headers: dict[str, str], region: str = "de-koeln") -> dict:
    response = await service.post(
        "/api/v1/cases",
        json={
            "region": region,
            "kind": "contact",
            "quarantine_start": "2026-11-25",
            "quarantine_end": "2026-12-08",
            "language": "en",
        },
        headers=headers,
    )
    assert response.status == 201
    case = await response.json()
    case["code"] = parse_qs(urlsplit(case["deep_link"]).query)["start"][0]
    return case


async def activate(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, user_id: int
) -> tuple[dict, SandboxUser]:
    case = await register(service, headers)
    citizen = bot_api.user(user_id, f"User {user_id}", "en")
    await citizen.send_command("start", case["code"])
    assert "Welcome" in (await citizen.wait_for_message())["text"]
    return case, citizen


async def entries(service: TestClient, headers: dict, case: dict) -> list[dict]:
    response = await service.get(f"/api/v1/cases/{case['id']}/entries", headers=headers)
    return (await response.json())["entries"]


async def status(service: TestClient, headers: dict, case: dict) -> str:
    response = await service.get(f"/api/v1/cases/{case['id']}", headers=headers)
    return (await response.json())["status"]


async def test_strangers_get_a_hint_whatever_they_send(
    service: TestClient, bot_api: SandboxBotApi
) -> None:
    texts = ["/start", "hello", "/stats", "38.5", "/start@DiaryTestBot", "🤒", "/help"]
    for number, text in enumerate(texts):
        # One stranger each: a chat gets at most one new message a second (Telegram's limit).
        stranger = bot_api.user(3100 + number, "Stranger", "en")
        await stranger.send_text(text)
        reply = await stranger.wait_for_message()
        assert UNREGISTERED in reply["text"], (text, reply["text"])


async def test_activation_codes_work_once(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case = await register(service, headers)
    stranger = bot_api.user(3002, "S", "en")
    for payload, expected in [
        ("short", "not valid"),
        ("A" * 22, "not valid"),  # well-formed, unknown
        ("../../etc/passwd", "not valid"),
    ]:
        await stranger.send_command("start", payload)
        assert expected in (await stranger.wait_for_message())["text"]
    assert await status(service, headers, case) == "registered"

    owner = bot_api.user(3003, "Owner", "en")
    await owner.send_command("start", case["code"])
    assert "Welcome" in (await owner.wait_for_message())["text"]
    await owner.send_command("start", case["code"])  # tapping the link again is harmless
    assert "You are registered" in (await owner.wait_for_message())["text"]
    await stranger.send_command("start", case["code"])
    assert "already been used" in (await stranger.wait_for_message())["text"]
    assert await status(service, headers, case) == "active"


async def test_expired_codes_bind_nothing(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, clock: FixedClock
) -> None:
    case = await register(service, headers)
    clock.advance(timedelta(hours=72, seconds=1))
    late = bot_api.user(3004, "Late", "de")
    await late.send_command("start", case["code"])
    assert (await late.wait_for_message())["text"]  # friendly, in German or English
    assert await status(service, headers, case) == "registered"


async def test_registered_people_get_hints_not_silence(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    _, citizen = await activate(service, headers, bot_api, 3005)
    await citizen.send_text("hello?")
    assert "no open question" in (await citizen.wait_for_message())["text"]
    await citizen.send_text("/nonsense")
    assert "did not understand" in (await citizen.wait_for_message())["text"]
    await citizen.send_command("help")
    assert "buttons" in (await citizen.wait_for_message())["text"]


async def test_forged_and_foreign_buttons_change_nothing(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case, citizen = await activate(service, headers, bot_api, 3006)
    other_case, other = await activate(service, headers, bot_api, 3007)
    await new_round(service, "de-koeln")
    prompt = await citizen.wait_for_message(has_button("well"))
    others_prompt = await other.wait_for_message(has_button("well"))

    forged = [
        "garbage",
        "q:AAAAAAAAAAAAAAAAAAAAAA:well",
        encode_question(uuid.uuid4(), "well"),
        button_data(others_prompt, "well"),  # a real prompt, of someone else
        button_data(prompt, "well").replace(":well", ":tog:cough"),  # not at this step
        button_data(prompt, "well").replace(":well", ":done"),
        button_data(prompt, "well") + ":x" * 30,  # over 64 bytes
    ]
    for data in forged:
        query = await citizen.press(prompt, data)
        answer = await citizen.wait_for_answer(query)
        assert answer["text"] in (
            "This question is closed.",
            "This button is no longer active.",
        ), data
    assert await entries(service, headers, case) == []
    assert await entries(service, headers, other_case) == []
    # The real button still works afterwards.
    query = await citizen.press(prompt, button_data(prompt, "well"))
    assert (await citizen.wait_for_answer(query))["text"] == "Thank you!"
    assert len(await entries(service, headers, case)) == 1


async def test_double_taps_and_stale_buttons_store_one_entry(
    service: TestClient, headers: dict, bot_api: SandboxBotApi, ctx: ServiceContext
) -> None:
    case, citizen = await activate(service, headers, bot_api, 3008)
    await new_round(service, "de-koeln")
    prompt = await citizen.wait_for_message(has_button("well"))
    well = button_data(prompt, "well")
    first, second = await citizen.press(prompt, well), await citizen.press(prompt, well)
    assert (await citizen.wait_for_answer(first))["text"] == "Thank you!"
    assert (await citizen.wait_for_answer(second))[
        "text"
    ] == "Your answer is already recorded. Thank you!"
    assert len(await entries(service, headers, case)) == 1

    # A new round (the next slot: staff would not ask again who answered this one) closes
    # the old prompt: its buttons are stale, the new ones work.
    await start_round(ctx, "de-koeln", "schedule", slot="next")
    fresh = await citizen.wait_for_message(
        lambda m: has_button("well")(m) and m["message_id"] != prompt["message_id"]
    )
    stale = await citizen.press(prompt, well.replace(":well", ":unwell"))
    assert (await citizen.wait_for_answer(stale))["text"] == "This question is closed."
    query = await citizen.press(fresh, button_data(fresh, "unwell"))
    await citizen.wait_for_answer(query)
    assert len(await entries(service, headers, case)) == 1


async def test_a_closed_cases_last_prompt_stores_nothing(
    service: TestClient, headers: dict, bot_api: SandboxBotApi
) -> None:
    case, citizen = await activate(service, headers, bot_api, 3009)
    await new_round(service, "de-koeln")
    prompt = await citizen.wait_for_message(has_button("well"))
    response = await service.post(f"/api/v1/cases/{case['id']}/close", headers=headers)
    assert response.status == 200
    query = await citizen.press(prompt, button_data(prompt, "well"))
    assert (await citizen.wait_for_answer(query))["text"] == "This question is closed."
    assert await entries(service, headers, case) == []
