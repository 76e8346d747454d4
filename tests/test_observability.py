"""Prometheus metrics at /metrics and log lines that name their request, as an operator
scraping and reading them would see them."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from backend.logs import REQUEST_ID, UPDATE_ID, configure_logging
from backend.server import RUNNING
from backend.services.context import ServiceContext
from backend.services.observability import refresh_gauges
from backend.services.staff import create_staff
from bot.sandbox import SandboxBotApi
from tests.rounds import new_round
from tests.test_end_to_end import button_data, has_button
from tests.test_escalations import citizen_reports

REGION = "ua-kyiv"


async def scrape(service: TestClient) -> dict[tuple[str, tuple], float]:
    response = await service.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_a_round_an_answer_and_an_alert(
    service: TestClient, ctx: ServiceContext, bot_api: SandboxBotApi
) -> None:
    token = (await create_staff(ctx, "Olena", "staff", [REGION])).token
    headers = {"Authorization": f"Bearer {token}"}
    before = await scrape(service)
    response = await service.post(
        "/api/v1/cases",
        json={
            "region": REGION,
            "kind": "contact",
            "quarantine_start": "2026-11-24",
            "quarantine_end": "2026-12-07",
            "language": "en",
        },
        headers=headers,
    )
    case = await response.json()
    citizen = bot_api.user(8_100_001, "Taras", "en")
    await citizen.send_command("start", case["deep_link"].rsplit("=", 1)[1])
    await citizen.wait_for_message()
    await new_round(service, REGION)
    prompt = await citizen.wait_for_message(has_button("well"))
    await citizen.press(prompt, button_data(prompt, "well"))
    await citizen.wait_for_message(has_button("correct"))
    await service.app[RUNNING].sender.drained()
    await refresh_gauges(ctx)

    after = await scrape(service)
    grew = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert grew("diary_round_prompts_total", region=REGION) >= 1
    assert grew("diary_round_duration_seconds_count", region=REGION) >= 1
    assert grew("diary_entries_stored_total", region=REGION) == 1
    assert grew("diary_messages_sent_total", kind="prompt") >= 1
    assert grew("diary_messages_sent_total", kind="reply") >= 1  # the welcome
    assert grew("diary_messages_sent_total", kind="answer_callback") >= 1
    for priority in "0123":
        assert ("diary_outbox_depth", (("priority", priority),)) in after
    assert value(after, "diary_outbox_depth", priority="0") == 0  # all sent
    assert "diary_telegram_429_total" in {name for name, _ in after}
    assert "diary_transaction_retries_total" in {name for name, _ in after}
    # Labels are kinds, regions, priorities and severities: never a person.
    text = await (await service.get("/metrics")).text()
    assert "Taras" not in text and "8100001" not in text and case["id"] not in text


async def test_open_alerts_are_counted_by_region_and_severity(
    service: TestClient, ctx: ServiceContext, bot_api: SandboxBotApi
) -> None:
    token = (await create_staff(ctx, "Erika", "staff", ["de-koeln"])).token
    await citizen_reports(service, token, bot_api, 8_100_002, "contact", "39.8", ("Cough",))
    rows = await ctx.db.fetch(
        "SELECT region, severity, count(*) AS n FROM escalations WHERE status <> 'resolved'"
        " GROUP BY region, severity"
    )
    await refresh_gauges(ctx)
    samples = await scrape(service)
    gauges = {k: v for k, v in samples.items() if k[0] == "diary_open_alerts"}
    assert rows and gauges == {
        ("diary_open_alerts", (("region", r["region"]), ("severity", r["severity"]))): r["n"]
        for r in rows
    }


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    yield stream
    configure_logging("WARNING")


async def test_json_log_lines_name_their_request_and_update(
    service: TestClient, json_log: io.StringIO
) -> None:
    response = await service.get("/healthz", headers={"X-Request-Id": "lb-4711"})
    assert response.headers["X-Request-Id"] == "lb-4711"
    generated = (await service.get("/healthz")).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
    # A request id that could forge log lines is replaced, not echoed.
    response = await service.get("/healthz", headers={"X-Request-Id": "x\u2028y"})
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-Id"])

    request, update = REQUEST_ID.set("lb-4711"), UPDATE_ID.set(991)
    try:
        logging.getLogger("backend.test").warning("alert %s posted", "A-1")
    finally:
        REQUEST_ID.reset(request)
        UPDATE_ID.reset(update)
    logging.getLogger("backend.test").warning("outside any request")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    inside, outside = lines[-2], lines[-1]
    assert inside["message"] == "alert A-1 posted" and inside["level"] == "WARNING"
    assert inside["request_id"] == "lb-4711" and inside["update_id"] == 991
    assert inside["logger"] == "backend.test" and "time" in inside
    assert outside["request_id"] is None and outside["update_id"] is None
