"""Long polling survives what a Bot API server may answer: a refused token or an unknown method
(401/404), answers PTB cannot understand, and an update it cannot parse (parked by its id, its
content never logged)."""

from __future__ import annotations

import logging

import pytest
from aiohttp.test_utils import TestClient

from backend import metrics
from bot.sandbox import SandboxBotApi


def failures(error: str) -> float:
    return metrics.POLL_FAILURES.labels(error)._value.get()


async def test_an_update_that_cannot_be_parsed_is_parked_by_its_id(
    service: TestClient, bot_api: SandboxBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    citizen = bot_api.user(5101, "Poll", "en")
    secret = "Private words from a citizen"
    # A callback query without chat_instance: PTB cannot build an Update from it.
    bad = bot_api.inject_update(
        "callback_query",
        {"id": "77", "from": {"id": 5101, "is_bot": False, "first_name": secret}, "data": "x"},
    )
    parked = metrics.UPDATES_PARKED.labels("TypeError")._value.get()
    with caplog.at_level(logging.INFO):  # telegram logs calls at DEBUG; never in production
        await citizen.send_text("/help")
        await citizen.wait_for_message()
    assert metrics.UPDATES_PARKED.labels("TypeError")._value.get() == parked + 1
    queue = bot_api.state.updates  # confirmed by the next getUpdates, not fetched again and again
    assert await queue.signal.wait_for(lambda: True if not queue.pending else None, 5)
    assert str(bad["update_id"]) in caplog.text
    assert secret not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.CRITICAL]


@pytest.mark.parametrize("status", [401, 404])
async def test_polling_goes_on_after_401_and_404(
    service: TestClient, bot_api: SandboxBotApi, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    citizen = bot_api.user(5102, "Poll", "en")
    before = failures("InvalidToken")
    bot_api.fail_next("getUpdates", status)
    await citizen.send_text("/help")
    assert await citizen.wait_for_message()
    assert failures("InvalidToken") == before + 1
    assert "refused the token or does not know the method" in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        {"ok": False},  # HTTP 200 without error_code or description
        {"ok": True, "result": {"not": "a list"}},
        "<html>502 Bad Gateway</html>",
    ],
)
async def test_polling_goes_on_after_answers_it_cannot_understand(
    service: TestClient, bot_api: SandboxBotApi, body: dict | str
) -> None:
    citizen = bot_api.user(5103, "Poll", "en")
    bot_api.answer_next("getUpdates", body)
    await citizen.send_text("/help")
    assert await citizen.wait_for_message()
    assert bot_api.stats["injected_answers"] == 1
