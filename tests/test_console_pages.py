"""The console's pages over a real server and database: each region sees only its own, a
viewer changes nothing, every read of personal data is audited as the API's, bad input is a
page that says what to correct (never a 500), and the pages speak German."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from backend.domain.cases import NewCase
from backend.domain.clock import FixedClock
from backend.domain.rules import Finding, Rule
from backend.domain.staff import StaffMember
from backend.services import audit, escalations, signin
from backend.services.cases import register_case
from backend.services.context import ServiceContext
from backend.services.escalations import raise_and_post
from backend.storage import staff as staff_store
from backend.storage.cases import get_case
from backend.storage.database import Database
from tests.console_browser import Browser, first_sign_in
from tests.test_console_signin import console_app

BERLIN, KOELN = "de-berlin-mitte", "de-koeln"
Member = Callable[..., Awaitable[Browser]]
_LOGINS = itertools.count(1)


@pytest.fixture
async def member(ctx: ServiceContext, clock: FixedClock) -> AsyncIterator[Member]:
    """A signed-in member's browser: ``await member("login", role, [regions])``."""
    sessions: list[ClientSession] = []
    async with TestServer(console_app(ctx)) as server:

        async def signed_in(login: str, role: str = "staff", regions=(BERLIN,)) -> Browser:
            name = f"{login.title()} Tester"
            login = f"{login}.{next(_LOGINS)}"  # one database for the module: logins differ
            _, temporary = await signin.create_member(ctx, name, role, list(regions), login, None)
            session = ClientSession(
                base_url=str(server.make_url("/")), cookie_jar=CookieJar(unsafe=True)
            )
            sessions.append(session)
            browser = Browser(session)
            await first_sign_in(browser, login, temporary, clock.now())
            return browser

        yield signed_in
        for session in sessions:
            await session.close()


async def a_case(ctx: ServiceContext, region: str, reference: str, kind: str = "contact") -> UUID:
    today = ctx.regions.require(region).local_date(ctx.clock.now())
    staff = StaffMember(UUID(int=0), "setup", "admin", frozenset({region}))
    registration = await register_case(
        ctx,
        staff,
        NewCase(region, kind, today, today + timedelta(days=13), "en", staff_reference=reference),
    )
    return registration.case.id


RED_FLAG = Finding(Rule.RED_FLAG, "urgent", Decimal("2.8"), ({"red_flags": ["chest_pain"]},))
STOPPED = Finding(Rule.STOPPED, "normal", Decimal("1"), ())


async def an_alert(
    ctx: ServiceContext, region: str, case_id: UUID, finding: Finding = RED_FLAG
) -> UUID:
    """An alert for the case (a red flag unless told), raised as the rules would."""

    async def raise_it(conn: asyncpg.Connection) -> UUID:
        case = await get_case(conn, [region], case_id)
        assert case is not None
        escalation = await raise_and_post(
            ctx, conn, ctx.regions.require(region), case, finding, ctx.clock.now()
        )
        return escalation.id

    return await ctx.db.transaction(raise_it)


async def test_another_regions_data_looks_like_none(ctx: ServiceContext, member: Member) -> None:
    koeln_case = await a_case(ctx, KOELN, "K-SECRET-1")
    koeln_alert = await an_alert(ctx, KOELN, koeln_case)
    berlin_case = await a_case(ctx, BERLIN, "B-OWN-1")
    await an_alert(ctx, BERLIN, berlin_case)
    berta = await member("berta", "staff", [BERLIN])

    worklist = await berta.get("/console/")
    assert worklist.has("B-OWN-1") and not worklist.has("K-SECRET-1")
    cases = await berta.get("/console/cases")
    assert cases.has("B-OWN-1") and not cases.has("K-SECRET-1")
    for path in (
        f"/console/cases/{koeln_case}",
        f"/console/worklist/rows?region={KOELN}",
        f"/console/events?region={KOELN}",
        f"/console/cases?region={KOELN}",
        f"/console/broadcasts/count?regions={KOELN}",
        f"/console/broadcasts/{UUID(int=7)}",
    ):
        page = await berta.get(path)
        assert page.status == 404 and page.has("nothing here"), path
    await berta.get("/console/")
    for action in (f"/console/alerts/{koeln_alert}/claim", f"/console/cases/{koeln_case}/close"):
        page = await berta.post(action)
        assert page.status == 404, action
    page = await berta.post(
        "/console/cases",
        {
            "region": KOELN,
            "kind": "contact",
            "quarantine_start": ctx.clock.now().date().isoformat(),
            "quarantine_end": (ctx.clock.now().date() + timedelta(days=5)).isoformat(),
        },
    )
    assert page.status == 422 and page.has("unknown region")


async def test_a_viewer_sees_no_buttons_and_a_forged_post_is_refused(
    ctx: ServiceContext, member: Member
) -> None:
    case_id = await a_case(ctx, BERLIN, "B-VIEW-1")
    alert_id = await an_alert(ctx, BERLIN, case_id)
    vera = await member("vera", "viewer", [BERLIN])
    worklist = await vera.get("/console/")
    assert worklist.has("B-VIEW-1")
    assert "/claim" not in worklist.html and "/resolve" not in worklist.html
    assert "/console/cases/new" not in worklist.html  # no "Register a case" in the menu
    case = await vera.get(f"/console/cases/{case_id}")
    assert case.status == 200 and case.has("B-VIEW-1")
    assert not re.search(r'action="[^"]*/(close|dates|activation-code|claim)"', case.html)
    broadcasts = await vera.get("/console/broadcasts")
    assert "broadcast-form" not in broadcasts.html
    # The forms are not there, but a forged POST with her own valid token is refused too.
    for action, fields in [
        (f"/console/alerts/{alert_id}/claim", {}),
        (f"/console/alerts/{alert_id}/resolve", {"comment": "forged"}),
        (f"/console/cases/{case_id}/close", {}),
        ("/console/cases", {"region": BERLIN, "kind": "contact"}),
        ("/console/broadcasts", {"regions": BERLIN, "text_de": "forged"}),
        ("/console/admin/staff", {"name": "Evil", "role": "admin", "login": "evil"}),
    ]:
        page = await vera.post(action, fields, csrf=worklist.csrf)
        assert page.status == 403 and page.has("does not allow"), action
    after = await vera.get("/console/")
    assert after.has("B-VIEW-1") and not after.has("Claimed by")


async def test_a_case_is_one_row_and_claimed_and_resolved_whole(
    ctx: ServiceContext, member: Member, db: Database
) -> None:
    """As in the authority's group: the duty officer takes a case, not one of its alerts, and
    an alert someone else has claimed stays theirs."""
    case_id = await a_case(ctx, BERLIN, "B-WHOLE-1")
    red_flag = await an_alert(ctx, BERLIN, case_id)
    stopped = await an_alert(ctx, BERLIN, case_id, STOPPED)
    other_case = await a_case(ctx, BERLIN, "B-WHOLE-2")
    other = await an_alert(ctx, BERLIN, other_case)
    berta = await member("berta", "staff", [BERLIN])
    karl = await member("karl", "staff", [BERLIN])

    worklist = await berta.get("/console/")
    row = re.search(rf'<tr data-id="{case_id}" data-alerts="([^"]*)"', worklist.html)
    assert row is not None and set(row.group(1).split()) == {str(red_flag), str(stopped)}
    assert worklist.html.count(f'<tr data-id="{case_id}"') == 1
    assert worklist.html.count(f"/alerts/{red_flag}/claim") == 1  # one Claim for the case
    assert f"/alerts/{stopped}/claim" not in worklist.html

    karl_staff = await _staff(ctx, karl)  # Karl was quicker with one of them (the API's claim)
    await escalations.claim(ctx, karl_staff, stopped)
    page = await berta.post(f"/console/alerts/{red_flag}/claim")
    assert page.has("claimed") and page.has("Claimed by Berta Tester")
    assert page.has("Claimed by Karl Tester")  # the case's row shows both
    status = await _statuses(db, [red_flag, stopped, other])
    assert status == {red_flag: "claimed", stopped: "claimed", other: "open"}
    claimed_by = await db.fetch(
        "SELECT id, claimed_by FROM escalations WHERE id = ANY($1::UUID[])", [red_flag, stopped]
    )
    assert {r["id"]: r["claimed_by"] for r in claimed_by}[stopped] == karl_staff.id
    again = await berta.post(f"/console/alerts/{red_flag}/claim", csrf=page.csrf)
    assert again.has("Someone else claimed")  # nothing open is left to claim

    case_page = await berta.get(f"/console/cases/{case_id}")
    assert case_page.has("Claim and Resolve act on all of the case's open alerts.")
    assert case_page.html.count("/resolve") == 1
    page = await berta.post(
        f"/console/alerts/{stopped}/resolve", {"comment": "Called, doing well."}
    )
    assert page.has("resolved")
    status = await _statuses(db, [red_flag, stopped, other])
    assert status == {red_flag: "resolved", stopped: "resolved", other: "open"}
    resolutions = await db.fetch(
        "SELECT resolution FROM escalations WHERE id = ANY($1::UUID[])", [red_flag, stopped]
    )
    assert {r["resolution"] for r in resolutions} == {"Called, doing well."}
    events = await audit.find_events(ctx, case_id=case_id)
    claims = [e for e in events if e.action == "escalation.claim"]
    resolves = [e for e in events if e.action == "escalation.resolve"]
    assert len(resolves) == 2 and {e.detail["escalation"] for e in resolves} == {
        str(red_flag),
        str(stopped),
    }
    assert [e.detail.get("escalation") for e in claims if e.staff_name == "Berta Tester"] == [
        str(red_flag)
    ]


async def _staff(ctx: ServiceContext, browser: Browser) -> StaffMember:
    rows = await ctx.db.fetch(
        "SELECT staff_id FROM staff_credentials WHERE login = $1", browser.login
    )
    found = await ctx.db.transaction(staff_store.get_member, rows[0]["staff_id"])
    assert found is not None
    return found


async def _statuses(db: Database, ids: list[UUID]) -> dict[UUID, str]:
    rows = await db.fetch("SELECT id, status FROM escalations WHERE id = ANY($1::UUID[])", ids)
    return {row["id"]: row["status"] for row in rows}


async def test_registering_names_wrong_fields_and_shows_the_link_once(
    ctx: ServiceContext, member: Member, clock: FixedClock
) -> None:
    berta = await member("berta", "staff", [BERLIN])
    await berta.get("/console/cases/new")
    today = ctx.regions.require(BERLIN).local_date(clock.now())
    for fields, problem in [
        ({"kind": "contact", "quarantine_end": today.isoformat()}, "Required."),
        (
            {
                "kind": "contact",
                "quarantine_start": today.isoformat(),
                "quarantine_end": (today - timedelta(days=1)).isoformat(),
            },
            "quarantine_end is before quarantine_start",
        ),
        (
            {"kind": "contact", "quarantine_start": "06.12.2026", "quarantine_end": "x"},
            "Enter a date.",
        ),
        ({"kind": "neither", "quarantine_start": today.isoformat()}, "Choose one of the options"),
        (
            {
                "kind": "index",
                "quarantine_start": today.isoformat(),
                "quarantine_end": today.isoformat(),
                "label": "x" * 31,
            },
            "Too long.",
        ),
        (
            {
                "kind": "index",
                "quarantine_start": today.isoformat(),
                "quarantine_end": today.isoformat(),
                "staff_reference": "nul\x00byte",
            },
            "Not accepted.",
        ),
    ]:
        page = await berta.post("/console/cases", {"region": BERLIN, **fields})
        assert page.status == 422 and page.has(problem), (problem, page.html[-2500:])
        assert page.has("Please check the marked fields")
    page = await berta.post(
        "/console/cases",
        {
            "region": BERLIN,
            "kind": "index",
            "quarantine_start": today.isoformat(),
            "quarantine_end": (today + timedelta(days=9)).isoformat(),
            "language": "en",
            "staff_reference": "BM-77",
        },
    )
    assert page.status == 201 and page.has("Case BM-77 is registered")
    assert 'src="data:image/svg+xml' in page.html and page.has("Your daily symptom diary")
    link = re.search(r'id="deep-link"[^>]*>([^<]+)<', page.html)
    assert link and "https://t.me/DiaryTestBot?start=" in link.group(1)
    # Shown once: nowhere in the case page or the list.
    code = link.group(1).rsplit("=", 1)[1]
    case_id = re.search(r'href="/console/cases/([0-9a-f-]{36})"', page.html).group(1)
    for later in (f"/console/cases/{case_id}", "/console/cases"):
        assert code not in (await berta.get(later)).html


async def test_reading_a_case_is_audited_as_the_api_audits_it(
    ctx: ServiceContext, member: Member
) -> None:
    case_id = await a_case(ctx, BERLIN, "B-AUDIT-1")
    berta = await member("berta", "staff", [BERLIN])
    await berta.get(f"/console/cases/{case_id}")
    await berta.get("/console/cases")
    await berta.get("/console/")
    events = await audit.find_events(ctx, case_id=case_id)
    actions = [e.action for e in events]
    assert {"case.read", "entries.read", "cases.list"} <= set(actions)
    reads = [e for e in events if e.action == "case.read"]
    assert reads[-1].staff_name == "Berta Tester" and reads[-1].client == "127.0.0.1"
    signed_in = await audit.find_events(ctx, action="console.sign_in")
    assert any(e.staff_name == "Berta Tester" for e in signed_in)


async def test_case_changes_and_their_mistakes(
    ctx: ServiceContext, member: Member, clock: FixedClock
) -> None:
    case_id = await a_case(ctx, BERLIN, "B-CHANGE-1")
    berta = await member("berta", "staff", [BERLIN])
    page = await berta.get(f"/console/cases/{case_id}")
    assert page.has("Not activated yet") and page.has("No temperature reported yet")
    today = ctx.regions.require(BERLIN).local_date(clock.now())
    page = await berta.post(
        f"/console/cases/{case_id}/dates",
        {"quarantine_start": today.isoformat(), "quarantine_end": "2026-02-30"},
    )
    assert page.status == 422 and page.has("Enter a date.")
    page = await berta.post(
        f"/console/cases/{case_id}/dates",
        {
            "quarantine_start": today.isoformat(),
            "quarantine_end": (today + timedelta(days=61)).isoformat(),
        },
    )
    assert page.status == 422 and page.has("at most 60 days")
    end = today + timedelta(days=20)
    page = await berta.post(
        f"/console/cases/{case_id}/dates",
        {"quarantine_start": today.isoformat(), "quarantine_end": end.isoformat()},
    )
    assert page.url.endswith("notice=changed") and page.has(end.isoformat())
    page = await berta.post(f"/console/cases/{case_id}/activation-code")
    assert page.status == 200 and page.has("A new activation link for case B-CHANGE-1")
    page = await berta.post(f"/console/cases/{case_id}/close")
    assert page.has("Monitoring of the case has ended") and page.has("Monitor again")
    page = await berta.post(f"/console/cases/{case_id}/activation-code")
    assert page.status == 409 and page.has("reopen it first")
    page = await berta.get(f"/console/cases/{case_id}")
    page = await berta.post(f"/console/cases/{case_id}/reopen")
    assert page.has("The case is monitored again")


async def test_line_lists_search_by_reference_and_page_by_key(
    ctx: ServiceContext, member: Member, clock: FixedClock
) -> None:
    for number in range(55):
        await a_case(ctx, KOELN, f"KL-{number:03d}")
        clock.advance(timedelta(seconds=1))
    await a_case(ctx, KOELN, "KX_%_literal")
    karl = await member("karl", "staff", [KOELN])
    first = await karl.get("/console/cases?q=kl-")
    shown = re.findall(r">(KL-\d{3})<", first.html)
    assert len(shown) == 50 and shown[0] == "KL-000"
    following = re.search(r'href="(/console/cases\?[^"]*cursor=[^"]+)"', first.html)
    assert following
    second = await karl.get(following.group(1).replace("&amp;", "&"))
    rest = re.findall(r">(KL-\d{3})<", second.html)
    assert rest == [f"KL-{n:03d}" for n in range(50, 55)]
    # The search takes % and _ literally.
    literal = await karl.get("/console/cases?q=KX_%25")
    assert literal.has("KX_%_literal") and not literal.has("KL-000")
    assert not (await karl.get("/console/cases?q=K%25")).has("KL-000")
    for odd in ("?list=nonsense", "?kind=alien", "?cursor=not-a-cursor", "?q=%00"):
        page = await karl.get(f"/console/cases{odd}")
        assert page.status in (200, 422), odd


async def test_broadcasts_count_confirm_and_cancel(ctx: ServiceContext, member: Member) -> None:
    berta = await member("berta", "staff", [BERLIN])
    async with berta.client.get(f"/console/broadcasts/count?regions={BERLIN}") as response:
        assert response.status == 200 and (await response.json()) == {"count": 0}
    await berta.get("/console/broadcasts")
    page = await berta.post(
        "/console/broadcasts/preview", [("regions", BERLIN), ("text_en", "Only English")]
    )
    assert page.status == 422 and page.has("a text in 'de' is needed")
    page = await berta.post(
        "/console/broadcasts/preview", [("regions", BERLIN), ("text_de", "Bitte lüften.")]
    )
    assert page.status == 200 and page.has("It goes to 0 people now")
    page = await berta.post("/console/broadcasts")  # the confirm page's hidden fields
    assert re.search(r"/console/broadcasts/[0-9a-f-]{36}$", page.url) and page.has("Done.")


async def test_an_administrator_moves_a_member_to_another_team(
    ctx: ServiceContext, member: Member
) -> None:
    """Role and regions changed in place: the member's open session follows at once."""
    berlin_case = await a_case(ctx, BERLIN, "B-TEAM-1")
    await an_alert(ctx, BERLIN, berlin_case)
    koeln_case = await a_case(ctx, KOELN, "K-TEAM-1")
    await an_alert(ctx, KOELN, koeln_case)
    ada = await member("ada", "admin", [])
    vera = await member("vera", "viewer", [BERLIN])
    worklist = await vera.get("/console/")
    assert worklist.has("B-TEAM-1") and not worklist.has("K-TEAM-1")
    assert "/claim" not in worklist.html
    vera_id = (await _staff(ctx, vera)).id
    path = f"/console/admin/staff/{vera_id}/access"

    page = await ada.get(f"/console/admin/staff/{vera_id}")
    assert page.has("Role and regions")
    page = await ada.post(path, [("role", "staff")])
    assert page.status == 422 and page.has("Choose at least one region.")
    page = await ada.post(path, [("role", "chief"), ("regions", KOELN)])
    assert page.status == 422 and page.has("Choose one of the options.")
    page = await ada.post(path, [("role", "staff"), ("regions", KOELN)])
    assert page.status == 200 and page.has("The role and regions are changed.")
    assert page.url == f"/console/admin/staff/{vera_id}?notice=access_changed"

    worklist = await vera.get("/console/")  # the same session, the new rights
    assert worklist.has("K-TEAM-1") and not worklist.has("B-TEAM-1")
    assert "/claim" in worklist.html
    berta = await member("berta", "staff", [BERLIN])
    await berta.get("/console/")
    refused = await berta.post(path, [("role", "admin")])
    assert refused.status == 403
    events = await audit.find_events(ctx, action="staff.change")
    assert any(e.detail.get("staff") == str(vera_id) for e in events)


async def test_administration_of_staff_tokens_and_the_audit_log(
    ctx: ServiceContext, member: Member
) -> None:
    ada = await member("ada", "admin", [])
    await ada.get("/console/admin/staff")
    page = await ada.post(
        "/console/admin/staff",
        [("name", "Vera Viewer"), ("role", "viewer"), ("login", ada.login), ("regions", BERLIN)],
    )
    assert page.status == 422 and page.has("is taken")
    page = await ada.post(
        "/console/admin/staff",
        [("name", "Vera Viewer"), ("role", "viewer"), ("login", "Vera.New"), ("regions", BERLIN)],
    )
    assert page.status == 201 and page.has("Temporary password")
    password = re.search(r'id="new-password">([^<]+)<', page.html).group(1)
    assert re.fullmatch(r"[a-z2-9]{5}(-[a-z2-9]{5}){3}", password)
    members = await ctx.db.transaction(staff_store.list_members)
    vera = next(m for m in members if m.name == "Vera Viewer")
    page = await ada.get(f"/console/admin/staff/{vera.id}")
    page = await ada.post(f"/console/admin/staff/{vera.id}/tokens", {"days": "0"})
    assert page.status == 422
    page = await ada.post(f"/console/admin/staff/{vera.id}/tokens", {"days": "30"})
    token = re.search(r'id="new-token">(sd_[^<]+)<', page.html)
    assert page.status == 201 and token
    page = await ada.get(f"/console/admin/staff/{vera.id}")
    assert token.group(1) not in page.html and page.has("valid")
    token_id = re.search(r'action="/console/admin/tokens/([0-9a-f-]{36})/revoke"', page.html)
    page = await ada.post(f"/console/admin/tokens/{token_id.group(1)}/revoke")
    assert page.has("The token is revoked") and page.has("revoked")
    ada_id = (await _staff(ctx, ada)).id  # by login: other tests have an Ada Tester too
    page = await ada.post(f"/console/admin/staff/{ada_id}/disable")
    assert page.status == 409 and page.has("your own account")
    page = await ada.get("/console/admin/audit?action=staff.create")
    assert page.has("staff.create") and page.has("Ada Tester")
    page = await ada.get("/console/admin/audit?case=not-a-uuid&since=yesterday")
    assert page.status == 200 and page.has("Not accepted.") and page.has("Enter a date.")


async def test_admin_pages_are_for_admins_only(ctx: ServiceContext, member: Member) -> None:
    karl = await member("karl", "staff", [KOELN])
    for path in ("/console/admin/staff", "/console/admin/audit"):
        page = await karl.get(path)
        assert page.status == 403, path


async def test_odd_paths_and_ids_are_pages_not_errors(ctx: ServiceContext, member: Member) -> None:
    karl = await member("karl", "staff", [KOELN])
    for path in (
        "/console/cases/not-a-uuid",
        f"/console/cases/{UUID(int=1)}",
        "/console/broadcasts/12",
        "/console/nothing-here",
    ):
        page = await karl.get(path)
        assert page.status == 404, path
        assert "<html" in page.html and "problem+json" not in page.html
    page = await karl.post("/console/alerts/not-an-id/resolve", {"comment": "x" * 501})
    assert page.status in (404, 422)


async def test_odd_filters_cursors_and_texts_are_answered_not_crashed(
    ctx: ServiceContext, member: Member
) -> None:
    ada = await member("ada", "admin", [])
    page = await ada.get("/console/admin/audit?until=9999-12-31&region=a%00b&action=x%00")
    assert page.status == 200 and page.has("Enter a date.")
    naive = "WyIyMDI2LTEyLTA2VDEwOjAwOjAwIiwgIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMSJd"
    for path in (f"/console/cases?cursor={naive}", f"/console/admin/audit?cursor={naive}"):
        page = await ada.get(path)
        assert page.status == 422 and page.has("cursor"), path
    await ada.get("/console/broadcasts")
    page = await ada.post(
        "/console/broadcasts/preview", [("regions", BERLIN), ("text_de", "Nul\x00zeichen")]
    )
    assert page.status == 422 and page.has("Not accepted.")
    page = await ada.get(f"/console/broadcasts/{UUID(int=9)}/events")
    assert page.status == 404 and "<html" in page.html
