"""A /language menu acts once, as /stop's does (issue 19): pressed again, or an older copy
pressed after a newer one was answered, it answers "closed" and switches nothing."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from backend.i18n import catalogs
from backend.server import RUNNING
from bot.sandbox import SandboxBotApi
from tests.test_questionnaire_flows import activated, data_of, has_data_prefix


def closed(language: str) -> str:
    return catalogs().get(language).gettext("This question is closed.")


async def language_of(service: TestClient, headers: dict, case: dict) -> str:
    response = await service.get(f"/api/v1/cases/{case['id']}", headers=headers)
    return (await response.json())["language"]


@pytest.mark.parametrize(("start", "other", "chat"), [("en", "de", 7401), ("de", "pl", 7402)])
async def test_a_language_menu_switches_once(
    service: TestClient,
    headers: dict,
    bot_api: SandboxBotApi,
    start: str,
    other: str,
    chat: int,
) -> None:
    case, citizen = await activated(service, headers, bot_api, chat, language=start)
    await citizen.send_command("language")
    older = await citizen.wait_for_message(has_data_prefix(f"l:{other}:"))
    await citizen.send_command("language")
    newer = await citizen.wait_for_message(has_data_prefix(f"l:{other}:"))
    await service.app[RUNNING].sender.drained()  # the menus' message ids are recorded
    await citizen.press(newer, data_of(newer, f"l:{other}:"))
    await citizen.wait_for_message(lambda m: m["message_id"] == newer["message_id"])
    assert await language_of(service, headers, case) == other
    # The same menu again, and the older one: closed (in the language now chosen).
    for menu in (newer, older):
        query = await citizen.press(menu, data_of(menu, f"l:{start}:"))
        answer = await citizen.wait_for_answer(query)
        assert answer["text"] == closed(other), answer
        assert await language_of(service, headers, case) == other
