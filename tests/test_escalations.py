"""Alerts in the authority's Telegram group: binding the group, linking staff, the group
message (pseudonymous, with the last days and Claim/Resolve), the first claim winning, the
resolve comment, who may act, non-reporting, reposting, the API and line lists."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient

from backend.api.keys import CONTEXT
from backend.domain.cases import Case, NewCase
from backend.domain.clock import FixedClock
from backend.domain.questionnaire import Answer
from backend.domain.rules import Finding, Rule
from backend.domain.staff import StaffMember
from backend.server import RUNNING
from backend.services import escalations as escalation_service
from backend.services.alert_sweeps import check_silence, repost_unclaimed
from backend.services.cases import register_case
from backend.services.context import ServiceContext
from backend.services.staff import authenticate, create_staff
from backend.storage import cases as case_store
from backend.storage import entries as entry_store
from backend.storage import escalations as escalation_store
from bot.callbacks import encode_alert
from bot.sandbox import SandboxBotApi, SandboxGroup, SandboxUser
from tests.rounds import new_round
from tests.test_end_to_end import has_button
from tests.test_questionnaire_flows import next_slot
from tests.waiting import eventually

REGION = "de-koeln"


@pytest.fixture(autouse=True)
async def quiet_region(db) -> None:
    """Each test starts with no monitored case, open alert or pending message in Köln, so
    one test's alerts do not queue before another's (a group gets a message every 3 s)."""
    async with db.pool.acquire() as conn:
        await conn.execute("UPDATE cases SET status = 'closed' WHERE region = $1", REGION)
        await conn.execute("UPDATE escalations SET status = 'resolved' WHERE region = $1", REGION)
        await conn.execute("DELETE FROM outbox WHERE sent_at IS NULL")


async def in_group(group: SandboxGroup, predicate=None) -> dict:  # noqa: ANN001
    """Wait for the bot in a group. Generous: a group gets one message every 3 s (Telegram's
    20 a minute), so a few queued alerts take a while."""
    return await group.wait_for_message(predicate, timeout=30)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def authority(service: TestClient, bot_api: SandboxBotApi, ctx: ServiceContext) -> dict:
    """Köln's group bound with a startgroup link, two linked staff members, one of Berlin."""
    people = {}
    for name, region, user_id in [
        ("Erika", REGION, 5101),
        ("Oskar", REGION, 5102),
        ("Bernd", "de-berlin-mitte", 5103),
    ]:
        token = (await create_staff(ctx, name, "staff", [region])).token
        response = await service.post("/api/v1/staff/me/telegram-link", headers=auth(token))
        link = await response.json()
        assert link["deep_link"].startswith("https://t.me/DiaryTestBot?start=staff_")
        user = bot_api.user(user_id, name, "de")
        await user.send_command("start", link["code"])
        assert name in (await user.wait_for_message())["text"]
        people[name] = (token, user)
    response = await service.post(
        f"/api/v1/regions/{REGION}/telegram-group", headers=auth(people["Erika"][0])
    )
    link = await response.json()
    assert "startgroup=group_" in link["deep_link"]
    group = bot_api.group(-1_005_100_000, title="Gesundheitsamt Köln, Lagedienst")
    await bot_api.add_bot_to_group(group, by=people["Erika"][1], start_payload=link["code"])
    assert (
        "Gesundheitsamt der Stadt Köln"
        in (
            await in_group(
                group,
            )
        )["text"]
    )
    return {"group": group, **people}


async def citizen_reports(
    service: TestClient,
    token: str,
    bot_api: SandboxBotApi,
    user_id: int,
    kind: str,
    temperature: str | None = None,
    symptoms: tuple[str, ...] = (),
    name: str = "Citizen",
    staff_reference: str | None = None,
) -> dict:
    response = await service.post(
        "/api/v1/cases",
        json={
            "region": REGION,
            "kind": kind,
            "quarantine_start": "2026-11-22",
            "quarantine_end": "2026-12-05",
            "language": "en",
            "staff_reference": staff_reference,
        },
        headers=auth(token),
    )
    case = await response.json()
    citizen = bot_api.user(user_id, name, "en")
    await citizen.send_command("start", case["deep_link"].rsplit("=", 1)[1])
    await citizen.wait_for_message()
    await new_round(service, REGION)
    await answer(citizen, temperature, symptoms)
    await rules_applied(service)
    return case


async def rules_applied(service: TestClient) -> None:
    """Once the alert checker (beside the sender) has taken every queued entry: the answer
    itself only queues it (services/alert_checks.py)."""
    db = service.app[CONTEXT].db

    async def empty() -> bool:
        rows = await db.fetch("SELECT count(*) AS n FROM entry_checks WHERE given_up_at IS NULL")
        return rows[0]["n"] == 0

    await eventually(empty, "the alert rules applied to the queued entries", timeout=15)


async def answer(citizen: SandboxUser, temperature: str | None, symptoms: tuple[str, ...]) -> None:
    prompt = await citizen.wait_for_message(has_button("well"))
    await citizen.press_button(prompt, "I don't feel well")
    checklist = await citizen.wait_for_message(has_button("done"))
    for label in symptoms:
        await citizen.press_button(checklist, label)
        checklist = await citizen.wait_for_message(lambda m, x=label: f"✅ {x}" in str(m))
    await citizen.press_button(checklist, "Done")
    await citizen.wait_for_message(has_button("nomeas"))
    await citizen.send_text(temperature or "37.0")
    trend = await citizen.wait_for_message(has_button("worse"))
    await citizen.press_button(trend, "Worse")
    await citizen.wait_for_message(has_button("skip"))
    await citizen.send_text("Ich wohne in der Hauptstraße 5, Telefon 0170 1234567")
    summary = await citizen.wait_for_message(has_button("send"))
    await citizen.press_button(summary, "Send")
    await citizen.wait_for_message(has_button("correct"))


def alert_in(group: SandboxGroup, text: str):
    """A new alert (it still has its Claim button) that mentions ``text``."""
    return lambda message: text in message.get("text", "") and ":c:" in str(message)


def press_alert(person: SandboxUser, alert: dict, action: str):
    """Press Claim (c), Resolve (r) or No comment (n) of an alert by its data, whatever the
    group's language calls the buttons."""
    return person.press(alert, encode_alert(_escalation_of(alert), action))


async def test_an_alert_claimed_and_resolved_in_the_group(
    service: TestClient, bot_api: SandboxBotApi, authority: dict
) -> None:
    group, (erika_token, erika), (_, oskar) = (
        authority["group"],
        authority["Erika"],
        authority["Oskar"],
    )
    await citizen_reports(
        service,
        erika_token,
        bot_api,
        5201,
        "index",
        "39.8",
        name="Maximilian Mustermann",
        staff_reference="K-2026-117",
    )
    alert = await in_group(group, alert_in(group, "K-2026-117"))
    text = alert["text"]  # in the region's language: German, with a decimal comma
    assert "39,8 °C" in text and "39,4 °C" in text and "5" in text and "14" in text
    assert "Mustermann" not in text and "Hauptstraße" not in text and "0170" not in text

    claim = await press_alert(erika, alert, "c")
    first_answer = (await erika.wait_for_answer(claim))["text"]
    claimed = await in_group(group, lambda m: m["message_id"] == alert["message_id"])
    assert "Erika" in claimed["text"] and ":c:" not in str(claimed["reply_markup"])

    late = await press_alert(oskar, alert, "c")
    assert (await oskar.wait_for_answer(late))["text"] != first_answer  # told it is taken

    await press_alert(oskar, claimed, "r")
    prompt = await in_group(group, has_button("n:" + _escalation_tail(alert)))
    assert "K-2026-117" in prompt["text"]
    await oskar.send_text("Called her, GP appointment tomorrow.", chat=group, reply_to=prompt)
    resolved = await in_group(
        group, lambda m: m["message_id"] == alert["message_id"] and "Oskar" in m["text"]
    )
    assert "GP appointment" in resolved["text"] and "reply_markup" not in resolved

    response = await service.get(
        "/api/v1/escalations", params={"status": "resolved"}, headers=auth(erika_token)
    )
    (item,) = [e for e in (await response.json())["escalations"] if e["rule"] == "temperature"]
    assert (item["claimed_by"], item["resolved_by"]) == ("Erika", "Oskar")
    assert item["resolution"] == "Called her, GP appointment tomorrow."


def _escalation_of(alert: dict):
    from bot.callbacks import AlertButton, decode

    for row in alert["reply_markup"]["inline_keyboard"]:
        for button in row:
            decoded = decode(button["callback_data"])
            if isinstance(decoded, AlertButton):
                return decoded.escalation_id
    raise AssertionError("no alert button")


def _escalation_tail(alert: dict) -> str:
    """The callback data suffix that names the alert (it ends every button of it)."""
    return alert["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[-1]


async def test_only_linked_staff_of_the_region_may_act(
    service: TestClient, bot_api: SandboxBotApi, authority: dict
) -> None:
    group, (token, erika), (_, bernd) = authority["group"], authority["Erika"], authority["Bernd"]
    await citizen_reports(service, token, bot_api, 5202, "index", "40.1", staff_reference="K-7")
    alert = await in_group(group, alert_in(group, "K-7"))
    stranger = bot_api.user(5999, "Nosy", "de")
    notices = set()
    for person in (stranger, bernd):  # unlinked; linked but for Berlin
        query = await press_alert(person, alert, "c")
        notices.add((await person.wait_for_answer(query))["text"])
    assert len(notices) == 1  # the same "not authorised" notice for both
    forged = await erika.press(alert, "a:c:" + "A" * 22)  # a well-formed id of no alert
    assert (await erika.wait_for_answer(forged))["text"] not in notices | {""}
    response = await service.get(
        "/api/v1/escalations", params={"status": "open"}, headers=auth(token)
    )
    assert any(e["status"] == "open" for e in (await response.json())["escalations"])
    unchanged = next(m for m in group.messages if m["message_id"] == alert["message_id"])
    assert "Claimed" not in unchanged["text"]


async def test_two_claims_at_once_one_wins(
    service: TestClient, bot_api: SandboxBotApi, authority: dict
) -> None:
    (erika_token, _), (oskar_token, _) = authority["Erika"], authority["Oskar"]
    await citizen_reports(
        service, erika_token, bot_api, 5203, "index", "39.9", staff_reference="K-8"
    )
    response = await service.get(
        "/api/v1/escalations", params={"status": "open"}, headers=auth(erika_token)
    )
    escalation = next(
        e
        for e in (await response.json())["escalations"]
        if e["reasons"][0].get("temperature") == "39.9"
    )
    path = f"/api/v1/escalations/{escalation['id']}/claim"
    first, second = await asyncio.gather(
        service.post(path, headers=auth(erika_token)), service.post(path, headers=auth(oskar_token))
    )
    assert sorted([first.status, second.status]) == [200, 409]
    winner = (await (first if first.status == 200 else second).json())["claimed_by"]
    loser_problem = await (second if first.status == 200 else first).json()
    assert winner in loser_problem["detail"]  # the loser is told who has it


async def test_a_repeat_updates_the_open_alert(
    service: TestClient, bot_api: SandboxBotApi, authority: dict, ctx: ServiceContext
) -> None:
    token = authority["Erika"][0]
    case = await citizen_reports(
        service, token, bot_api, 5204, "index", "39.6", staff_reference="K-9"
    )
    citizen = bot_api.user(5204)
    await next_slot(service, REGION)  # the same day's next slot: another answer
    await answer(citizen, "40.2", ())

    async def updated() -> bool:  # by the alert checker, beside the sender, once it has run
        rows = await ctx.db.fetch(
            "SELECT max(reasons::TEXT) AS reasons FROM escalations "
            "WHERE case_id = $1::UUID AND rule = 'temperature'",
            case["id"],
        )
        return "40.2" in (rows[0]["reasons"] or "")

    await eventually(updated, "the open alert updated with 40.2", timeout=15)
    rows = await ctx.db.fetch(
        "SELECT count(*) AS n FROM escalations WHERE case_id = $1::UUID AND rule = 'temperature'",
        case["id"],
    )
    assert rows[0]["n"] == 1  # the same alert, not a second one


async def test_non_reporting_and_reposting_urgent_alerts(
    service: TestClient,
    bot_api: SandboxBotApi,
    authority: dict,
    ctx: ServiceContext,
    clock: FixedClock,
) -> None:
    group, token = authority["group"], authority["Erika"][0]
    case = await citizen_reports(
        service, token, bot_api, 5205, "contact", "37.0", ("Chest pain",), staff_reference="K-10"
    )
    urgent = await in_group(group, alert_in(group, "🚨"))
    assert "K-10" in urgent["text"]
    clock.advance(timedelta(minutes=15))
    assert await repost_unclaimed(ctx, REGION) >= 1
    service.app[RUNNING].sender.signal.notify()
    reposted = await in_group(
        group,
        lambda m: (
            "🚨" in m["text"] and "K-10" in m["text"] and m["message_id"] != urgent["message_id"]
        ),
    )
    assert "K-10" in reposted["text"]

    # Silent for 24 hours: a non-reporting alert; the next answer resolves it by itself.
    clock.advance(timedelta(hours=24))
    assert await check_silence(ctx, REGION) >= 1
    service.app[RUNNING].sender.signal.notify()
    silent = await in_group(
        group, lambda m: "24" in m["text"] and "K-10" in m["text"] and "🚨" not in m["text"]
    )
    await new_round(service, REGION)
    await answer(bot_api.user(5205), "36.8", ())
    back = await in_group(
        group, lambda m: m["message_id"] == silent["message_id"] and "reply_markup" not in m
    )
    assert "✅" in back["text"]
    rows = await ctx.db.fetch(
        "SELECT status FROM escalations WHERE case_id = $1::UUID AND rule = 'non_reporting'",
        case["id"],
    )
    assert [r["status"] for r in rows] == ["resolved"]


async def test_worklist_order_and_line_lists(
    service: TestClient, bot_api: SandboxBotApi, authority: dict
) -> None:
    token = authority["Erika"][0]
    await citizen_reports(
        service, token, bot_api, 5206, "contact", "38.4", ("Cough",), staff_reference="K-11"
    )
    response = await service.get("/api/v1/escalations", headers=auth(token))
    items = (await response.json())["escalations"]
    weights = [e["case_open_weight"] for e in items]
    assert weights == sorted(weights, reverse=True)
    response = await service.get(
        "/api/v1/cases", params={"list": "symptomatic"}, headers=auth(token)
    )
    symptomatic = (await response.json())["cases"]
    assert any(c["staff_reference"] == "K-11" for c in symptomatic)
    response = await service.get("/api/v1/cases", params={"list": "everyone"}, headers=auth(token))
    assert response.status == 422
    response = await service.get(
        "/api/v1/escalations", params={"region": "de-berlin-mitte"}, headers=auth(token)
    )
    assert response.status == 404
    response = await service.get(
        "/api/v1/escalations", params={"severity": "apocalyptic"}, headers=auth(token)
    )
    assert response.status == 422


async def test_a_group_that_becomes_a_supergroup_keeps_its_alerts(
    service: TestClient, bot_api: SandboxBotApi, authority: dict
) -> None:
    group, token = authority["group"], authority["Erika"][0]
    bot_api.migrate_group(group, new_chat_id=-1_009_999_000)
    await citizen_reports(service, token, bot_api, 5207, "index", "39.7", staff_reference="K-12")
    moved = bot_api.handle_for(-1_009_999_000)
    # Earlier tests' alerts may queue before it: a group gets one message every 3 s.
    alert = await in_group(moved, alert_in(moved, "K-12"))
    assert "39,7" in alert["text"]


async def test_broadcast_from_the_group(
    service: TestClient, bot_api: SandboxBotApi, authority: dict
) -> None:
    group, (token, erika), (_, bernd) = authority["group"], authority["Erika"], authority["Bernd"]
    await citizen_reports(service, token, bot_api, 5208, "contact", "36.9", staff_reference="K-13")
    await bernd.send_text("/broadcast Hallo", chat=group)
    refused = await in_group(
        group,
    )
    assert "reply_markup" not in refused  # no preview, no button to send
    await erika.send_text("/broadcast Das Testzentrum öffnet um 9 Uhr.", chat=group)
    preview = await in_group(group, lambda m: "reply_markup" in m)
    assert "Das Testzentrum öffnet um 9 Uhr." in preview["text"]
    send = preview["reply_markup"]["inline_keyboard"][0][0]
    await erika.press(preview, send["callback_data"])
    await in_group(
        group, lambda m: m["message_id"] == preview["message_id"] and "reply_markup" not in m
    )
    notice = await bot_api.user(5208).wait_for_message(lambda m: "Testzentrum" in m["text"])
    assert notice["text"].startswith("📢")


async def staff_member(ctx: ServiceContext, name: str, role: str = "staff") -> StaffMember:
    member = await authenticate(ctx, (await create_staff(ctx, name, role, [REGION])).token)
    assert member is not None
    return member


async def active_case(ctx: ServiceContext, staff: StaffMember, chat_id: int, **extra) -> Case:
    """A case activated now, without going through the bot (for rules driven by the clock)."""
    new = NewCase(REGION, "contact", date(2026, 11, 22), date(2026, 12, 5), "en", **extra)
    registration = await register_case(ctx, staff, new)
    case = await ctx.db.transaction(
        case_store.bind_chat, REGION, registration.case.id, chat_id, ctx.clock.now()
    )
    assert case is not None
    return case


async def test_a_resolved_non_reporting_alert_waits_a_full_period(
    ctx: ServiceContext, clock: FixedClock
) -> None:
    staff = await staff_member(ctx, "Greta")
    case = await active_case(ctx, staff, 5301)
    clock.advance(timedelta(hours=23, minutes=59))
    assert await check_silence(ctx, REGION) == 0
    clock.advance(timedelta(minutes=1))
    assert await check_silence(ctx, REGION) == 1
    assert await check_silence(ctx, REGION) == 0  # one open alert is enough
    (alert,) = await ctx.db.fetch(
        "SELECT id FROM escalations WHERE case_id = $1 AND rule = 'non_reporting'", case.id
    )
    clock.advance(timedelta(hours=2))
    await escalation_service.resolve(ctx, staff, alert["id"], "reached by phone")
    clock.advance(timedelta(minutes=1))
    assert await check_silence(ctx, REGION) == 0  # not again a minute later
    clock.advance(timedelta(hours=23, minutes=58))
    assert await check_silence(ctx, REGION) == 0
    clock.advance(timedelta(minutes=1))  # a full period after the resolve
    assert await check_silence(ctx, REGION) == 1


async def test_only_staff_of_the_region_may_bind_its_group(
    service: TestClient, bot_api: SandboxBotApi, authority: dict, ctx: ServiceContext
) -> None:
    old, (token, erika), (_, bernd) = authority["group"], authority["Erika"], authority["Bernd"]
    response = await service.post(f"/api/v1/regions/{REGION}/telegram-group", headers=auth(token))
    code = (await response.json())["code"]
    other = bot_api.group(-1_005_300_000, title="Somewhere else")
    start = f"/start@{bot_api.bot_username} {code}"
    await bot_api.add_bot_to_group(other, by=bot_api.user(5998, "Mallory", "de"))
    for person in (bot_api.user(5998), bernd):  # unlinked; linked but for Berlin
        await person.send_text(start, chat=other)
        refused = await in_group(other)
        assert "Nicht berechtigt" in refused["text"]
    rows = await ctx.db.fetch("SELECT chat_id FROM region_groups WHERE region = $1", REGION)
    assert [r["chat_id"] for r in rows] == [old.chat_id]  # nothing changed

    await erika.send_text(start, chat=other)  # the code was not spent by the refusals
    assert "Gesundheitsamt der Stadt Köln" in (await in_group(other))["text"]
    notice = await in_group(old, lambda m: "keine Meldungen" in m["text"])
    assert "Gesundheitsamt der Stadt Köln" in notice["text"]
    rows = await ctx.db.fetch(
        "SELECT detail FROM audit_log WHERE action = 'group.bind' AND region = $1 "
        "ORDER BY at DESC LIMIT 1",
        REGION,
    )
    assert f'"chat_id": {other.chat_id}' in rows[0]["detail"]
    assert f'"replaced_chat_id": {old.chat_id}' in rows[0]["detail"]


async def test_an_evening_entry_sees_the_mornings_first_symptom(ctx: ServiceContext) -> None:
    """Two prompts a day: the morning's cough raises FIRST_SYMPTOM once; after it was
    resolved, the evening's cough does not raise it again. A correction of the morning entry
    does not count itself as earlier."""
    staff = await staff_member(ctx, "Hanna")
    case = await active_case(ctx, staff, 5401)
    today = ctx.clock.now().date()
    cough = Answer(False, ("cough",))

    async def report(prompt_id: UUID, answer: Answer) -> set[str]:
        async def store(conn):
            entry_id = await entry_store.save_entry(
                conn, REGION, case.id, prompt_id, today, answer, ctx.clock.now()
            )
            raised = await escalation_service.on_entry(ctx, conn, case, entry_id, today, answer)
            return {e.rule for e in raised}

        return await ctx.db.transaction(store)

    morning, evening = uuid4(), uuid4()
    assert "first_symptom" in await report(morning, cough)
    assert "first_symptom" in await report(morning, cough)  # corrected: still the first
    (alert,) = await ctx.db.fetch(
        "SELECT id FROM escalations WHERE case_id = $1 AND rule = 'first_symptom'", case.id
    )
    await escalation_service.resolve(ctx, staff, alert["id"], "called, test booked")
    assert "first_symptom" not in await report(evening, cough)
    rows = await ctx.db.fetch(
        "SELECT status FROM escalations WHERE case_id = $1 AND rule = 'first_symptom'", case.id
    )
    assert [r["status"] for r in rows] == ["resolved"]


async def test_a_repeat_at_the_same_instant_is_not_a_new_alert(ctx: ServiceContext) -> None:
    """Whether an alert is new does not depend on timestamps: a repeat at the very same
    instant updates the open alert; after it was resolved, the same finding opens a new one."""
    staff = await staff_member(ctx, "Ida")
    case = await active_case(ctx, staff, 5402)
    now = ctx.clock.now()
    first = Finding(Rule.TEMPERATURE, "high", Decimal("0.7"), ({"temperature": "38.5"},))
    again = Finding(Rule.TEMPERATURE, "high", Decimal("0.7"), ({"temperature": "39.1"},))

    async def raise_(finding: Finding):
        return await ctx.db.transaction(escalation_store.raise_alert, REGION, case.id, finding, now)

    opened, new = await raise_(first)
    assert new
    repeated, new = await raise_(again)
    assert not new and repeated.id == opened.id and repeated.reasons == list(again.reasons)
    await ctx.db.transaction(escalation_store.resolve, REGION, opened.id, staff.id, "done", now)
    reopened, new = await raise_(again)
    assert new and reopened.id != opened.id
    rows = await ctx.db.fetch(
        "SELECT status FROM escalations WHERE case_id = $1 ORDER BY status", case.id
    )
    assert [r["status"] for r in rows] == ["open", "resolved"]


def new_alerts_about(group: SandboxGroup, reference: str) -> list[dict]:
    """The alert messages posted (not replies or prompts) that name ``reference``."""
    return [
        m
        for m in group.messages
        if reference in m.get("text", "") and "Letzte Tage:" in m.get("text", "")
    ]


async def redeliver_last_press(service: TestClient, bot_api: SandboxBotApi) -> None:
    """Telegram delivers the last button press again (same update id, same content), as it
    does when the bot did not confirm it in time: through the running bot, as delivered."""
    query = list(bot_api.state.callback_queries.values())[-1]["query"]
    update_id = bot_api.state.updates.next_update_id - 1
    data = {"update_id": update_id, "callback_query": query}
    assert (await service.app[RUNNING].processor().process(data)).confirm


async def test_one_entry_crossing_several_rules_is_one_message_and_claim_takes_the_case(
    service: TestClient, bot_api: SandboxBotApi, authority: dict, ctx: ServiceContext
) -> None:
    group, (token, _), (_, oskar) = authority["group"], authority["Erika"], authority["Oskar"]
    case = await citizen_reports(
        service, token, bot_api, 5209, "index", "39.8", ("Fever", "Cough"), staff_reference="K-30"
    )
    first = await in_group(group, alert_in(group, "K-30"))
    text = first["text"]  # both reasons, in German, in one message
    assert "39,8 °C" in text and "• Symptomatisch: Husten" in text, text
    assert text.startswith("⚠️") and "Hauptstraße" not in text
    await redeliver_last_press(service, bot_api)  # the same entry again: no second message

    # A later entry crossing another rule while those are open: a message of its own.
    citizen = bot_api.user(5209)
    await next_slot(service, REGION)
    await answer(citizen, "37.0", ("Chest pain",))
    second = await in_group(
        group, lambda m: alert_in(group, "K-30")(m) and m["message_id"] != first["message_id"]
    )
    assert second["text"].startswith("🚨") and "Warnzeichen" in second["text"]
    reasons = [line for line in second["text"].splitlines() if line.startswith("•")]
    assert len(reasons) == 1 and "Brustschmerzen" in reasons[0], second["text"]
    assert len(new_alerts_about(group, "K-30")) == 2
    rows = await ctx.db.fetch(
        "SELECT rule, coalesce(post_id, id) AS post FROM escalations WHERE case_id = $1::UUID",
        case["id"],
    )
    posts = {r["rule"]: r["post"] for r in rows}
    assert set(posts) == {"temperature", "symptomatic", "red_flag"}  # one alert per rule
    assert posts["temperature"] == posts["symptomatic"] != posts["red_flag"]
    (sent,) = await ctx.db.fetch(
        "SELECT count(*) AS n FROM outbox WHERE kind = 'alert' AND subject_id = ANY($1::UUID[])",
        list(set(posts.values())),
    )
    assert sent["n"] == 2  # the redelivered press queued nothing

    # Claim under the first message takes every open alert of the case, both messages say so.
    before = group.mark()
    query = await press_alert(oskar, first, "c")
    await oskar.wait_for_answer(query)
    for message in (first, second):  # edited in either order
        edited = await group.wait_for_message(
            lambda m, i=message["message_id"]: m["message_id"] == i and "Oskar" in m["text"],
            after=before,
            timeout=30,
        )
        assert ":c:" not in str(edited["reply_markup"]) and ":r:" in str(edited["reply_markup"])
    response = await service.get(
        "/api/v1/escalations", params={"status": "claimed"}, headers=auth(token)
    )
    mine = [e for e in (await response.json())["escalations"] if e["case_id"] == case["id"]]
    assert sorted((e["rule"], e["claimed_by"]) for e in mine) == [
        ("red_flag", "Oskar"),
        ("symptomatic", "Oskar"),
        ("temperature", "Oskar"),
    ]
    audited = await ctx.db.fetch(
        "SELECT detail FROM audit_log WHERE action = 'escalation.claim' AND case_id = $1::UUID",
        case["id"],
    )
    assert len(audited) == 3 and all('"via": "telegram"' in r["detail"] for r in audited)
    assert len(new_alerts_about(group, "K-30")) == 2  # edited, never posted again


async def test_an_alert_claimed_through_the_api_shows_in_the_grouped_message(
    service: TestClient, bot_api: SandboxBotApi, authority: dict, ctx: ServiceContext
) -> None:
    group, (token, _), (_, oskar) = authority["group"], authority["Erika"], authority["Oskar"]
    case = await citizen_reports(
        service, token, bot_api, 5210, "index", "39.9", ("Cough",), staff_reference="K-31"
    )
    alert = await in_group(group, alert_in(group, "K-31"))
    (temperature,) = await ctx.db.fetch(
        "SELECT id FROM escalations WHERE case_id = $1::UUID AND rule = 'temperature'", case["id"]
    )
    response = await service.post(
        f"/api/v1/escalations/{temperature['id']}/claim", headers=auth(token)
    )
    assert response.status == 200
    mixed = await in_group(
        group, lambda m: m["message_id"] == alert["message_id"] and "Erika" in m["text"]
    )
    # Only the temperature line is taken; Claim is still offered for the cough.
    (line,) = [ln for ln in mixed["text"].splitlines() if ln.startswith("• Temperatur")]
    assert "Erika" in line and ":c:" in str(mixed["reply_markup"])
    query = await press_alert(oskar, mixed, "c")
    await oskar.wait_for_answer(query)
    both = await in_group(
        group, lambda m: m["message_id"] == alert["message_id"] and "Oskar" in m["text"]
    )
    assert "Erika" in both["text"] and ":c:" not in str(both["reply_markup"])

    # Resolve without a comment resolves them all; the message loses its buttons.
    await press_alert(oskar, both, "r")
    prompt = await in_group(group, has_button("n:" + _escalation_tail(alert)))
    assert "K-31" in prompt["text"]
    await oskar.press(prompt, prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    done = await in_group(
        group, lambda m: m["message_id"] == alert["message_id"] and "reply_markup" not in m
    )
    assert "Oskar" in done["text"]
    rows = await ctx.db.fetch(
        "SELECT status, resolved_by IS NOT NULL AS by_staff FROM escalations "
        "WHERE case_id = $1::UUID",
        case["id"],
    )
    assert [(r["status"], r["by_staff"]) for r in rows] == [("resolved", True)] * 2


async def test_an_unclaimed_urgent_message_is_reposted_once_with_all_its_reasons(
    service: TestClient,
    bot_api: SandboxBotApi,
    authority: dict,
    ctx: ServiceContext,
    clock: FixedClock,
) -> None:
    group, (token, erika) = authority["group"], authority["Erika"]
    await citizen_reports(
        service, token, bot_api, 5211, "index", "39.8", ("Chest pain",), staff_reference="K-32"
    )
    urgent = await in_group(group, alert_in(group, "K-32"))
    assert urgent["text"].startswith("🚨")  # the most severe of its alerts
    assert sum(line.startswith("•") for line in urgent["text"].splitlines()) == 2
    clock.advance(timedelta(minutes=15))
    assert await repost_unclaimed(ctx, REGION) == 1  # one message again, not one per alert
    service.app[RUNNING].sender.signal.notify()
    again = await in_group(
        group, lambda m: alert_in(group, "K-32")(m) and m["message_id"] != urgent["message_id"]
    )
    assert "Warnzeichen" in again["text"] and "39,8" in again["text"]
    before = group.mark()
    await erika.wait_for_answer(await press_alert(erika, again, "c"))
    for message in (urgent, again):  # every copy shows who took it
        await group.wait_for_message(
            lambda m, i=message["message_id"]: m["message_id"] == i and "Erika" in m["text"],
            after=before,
            timeout=30,
        )
    assert await repost_unclaimed(ctx, REGION) == 0
