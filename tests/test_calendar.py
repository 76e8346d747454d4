"""A quarantine run with the service clock at the instants ``make test-dates`` moves the wall
clock to: 400 days on, the night Berlin's clocks go forward, 29 February, the last seconds of a
year. faketime shifts the database and every process, but not the ``FixedClock`` of the tests
(it stands at ``NOW`` by design); here that injected clock is moved instead, while the
database stays on its own day. Every decision below is the service clock's, so none of them
cares which day the database believes it is."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from backend.domain.clock import FixedClock
from backend.services.alert_sweeps import check_silence
from backend.services.context import ServiceContext
from backend.services.retention import purge_expired
from backend.services.staff import create_staff
from bot.sandbox import SandboxBotApi
from tests.conftest import NOW
from tests.dates import instants
from tests.rounds import new_round
from tests.test_escalations import answer

REGION = "de-berlin-mitte"
INSTANTS = instants(NOW)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("name", list(INSTANTS))
async def test_a_quarantine_at_a_hard_instant(
    name: str,
    service: TestClient,
    bot_api: SandboxBotApi,
    ctx: ServiceContext,
    clock: FixedClock,
) -> None:
    at: datetime = INSTANTS[name]
    clock.set(at)
    region = ctx.regions.require(REGION)
    today = region.local_date(at)
    token = (await create_staff(ctx, f"Cal {name}", "staff", [REGION])).token

    def dates(start: date, days: int) -> dict[str, str]:
        return {
            "quarantine_start": start.isoformat(),
            "quarantine_end": (start + timedelta(days=days)).isoformat(),
        }

    case_body = {"region": REGION, "kind": "contact", "language": "en"}
    too_far = await service.post(
        "/api/v1/cases", json=case_body | dates(today + timedelta(days=91), 13), headers=auth(token)
    )
    assert too_far.status == 422 and "quarantine_start" in await too_far.text()
    ended = await service.post(
        "/api/v1/cases", json=case_body | dates(today - timedelta(days=14), 13), headers=auth(token)
    )
    assert ended.status == 422 and "quarantine_end" in await ended.text()
    response = await service.post(
        "/api/v1/cases", json=case_body | dates(today - timedelta(days=1), 13), headers=auth(token)
    )
    assert response.status == 201, await response.text()
    case = await response.json()
    expires = datetime.fromisoformat(case["code_expires_at"])
    assert expires == at + timedelta(hours=region.activation_code_hours)

    # Activation, the day's prompt (day 2 of 14, whatever the calendar says) and an answer.
    citizen = bot_api.user(4_900_000 + list(INSTANTS).index(name), f"Cal {name}", "en")
    await citizen.send_command("start", case["deep_link"].rsplit("=", 1)[1])
    assert "Welcome" in (await citizen.wait_for_message())["text"]
    assert (await new_round(service, REGION)).prompts >= 1
    await answer(citizen, "39.6", ("Cough",))
    response = await service.get(f"/api/v1/cases/{case['id']}/entries", headers=auth(token))
    (entry,) = (await response.json())["entries"]
    assert entry["local_date"] == today.isoformat()
    assert datetime.fromisoformat(entry["recorded_at"]) == at
    response = await service.get(f"/api/v1/escalations?region={REGION}", headers=auth(token))
    ours = [e for e in (await response.json())["escalations"] if e["case_id"] == case["id"]]
    assert ours and all(datetime.fromisoformat(e["created_at"]) == at for e in ours)

    # Silent a day later: a non-reporting alert, counted from the answer on the same clock.
    clock.advance(timedelta(hours=23, minutes=59))
    assert not await _silent(ctx, case["id"])
    clock.advance(timedelta(minutes=1))
    assert await check_silence(ctx, REGION) >= 1
    assert await _silent(ctx, case["id"])

    # The staff token lives 180 days from its issue; the closed case is purged on time.
    await service.post(f"/api/v1/cases/{case['id']}/close", headers=auth(token))
    clock.set(at + timedelta(days=180) - timedelta(seconds=1))
    assert (await service.get("/api/v1/cases", headers=auth(token))).status == 200
    assert await purge_expired(ctx, REGION) >= 1  # closed ~180 days ago, kept 30
    clock.set(at + timedelta(days=180))
    assert (await service.get("/api/v1/cases", headers=auth(token))).status == 401


async def _silent(ctx: ServiceContext, case_id: str) -> bool:
    rows = await ctx.db.fetch(
        "SELECT 1 FROM escalations WHERE case_id = $1::UUID AND rule = 'non_reporting'", case_id
    )
    return bool(rows)
