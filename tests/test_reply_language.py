"""Saying the right thing in the right words (issue 19): the case's language for every reply
when the chat has a case (the staff-link commands too, not the Telegram app's), and a link
that staff replaced is called replaced, not expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from backend.domain.clock import FixedClock
from backend.i18n import catalogs
from bot.sandbox import SandboxBotApi
from tests.test_questionnaire_flows import activated

INVALID = "This link code is not valid or has expired."


@pytest.mark.parametrize(
    ("case_language", "app_language", "chat"), [("en", "de", 7501), ("de", "tr", 7502)]
)
async def test_a_staff_link_reply_speaks_the_cases_language(
    service: TestClient,
    headers: dict,
    bot_api: SandboxBotApi,
    case_language: str,
    app_language: str,
    chat: int,
) -> None:
    citizen = bot_api.user(chat, "Person", app_language)
    await activated(service, headers, bot_api, chat, language=case_language, user=citizen)
    for command, argument in (("link", "staff_not-a-real-code"), ("start", "staff_nope")):
        await citizen.send_command(command, argument)
        reply = await citizen.wait_for_message()
        assert reply["text"] == catalogs().get(case_language).gettext(INVALID), reply["text"]


REPLACED = (
    "This link was replaced by a newer one. Please open the newest link your health "
    "authority gave you."
)
EXPIRED = "This link has expired. Please ask your health authority for a new one."


@pytest.mark.parametrize(("language", "chat"), [("en", 7511), ("de", 7512)])
async def test_a_replaced_link_says_so_and_an_expired_one_says_expired(
    service: TestClient,
    headers: dict,
    bot_api: SandboxBotApi,
    clock: FixedClock,
    language: str,
    chat: int,
) -> None:
    """Issue 19: a link that staff replaced was reported as "expired"."""
    response = await service.post(
        "/api/v1/cases",
        json={
            "region": "de-koeln",
            "kind": "contact",
            "quarantine_start": "2026-11-25",
            "quarantine_end": "2026-12-08",
            "language": language,
        },
        headers=headers,
    )
    case = await response.json()
    first = case["deep_link"].rsplit("=", 1)[1]
    renewed = await service.post(f"/api/v1/cases/{case['id']}/activation-code", headers=headers)
    second = (await renewed.json())["deep_link"].rsplit("=", 1)[1]
    t = catalogs().get(language)
    citizen = bot_api.user(chat, "Person", language)
    await citizen.send_command("start", first)
    assert (await citizen.wait_for_message())["text"] == t.gettext(REPLACED)
    clock.advance(timedelta(days=4))  # past the region's 72 hours
    stranger = bot_api.user(chat + 100, "Other", language)
    await stranger.send_command("start", second)
    assert (await stranger.wait_for_message())["text"] == t.gettext(EXPIRED)
