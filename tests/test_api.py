"""The staff API over a real aiohttp server and a real database: happy paths and every error
answered as problem JSON naming the field or reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp.test_utils import TestClient, TestServer

from backend.api.app import create_api
from backend.services.context import ServiceContext
from backend.services.staff import create_staff


@pytest.fixture
async def client(ctx: ServiceContext) -> AsyncIterator[TestClient]:
    def deep_link(code: str, group: bool = False) -> str:
        return f"https://t.me/DiaryTestBot?start{'group' if group else ''}={code}"

    app = create_api(ctx, deep_link=deep_link)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def tokens(ctx: ServiceContext) -> dict[str, str]:
    berlin = await create_staff(ctx, "Berta Berlin", "staff", ["de-berlin-mitte"])
    viewer = await create_staff(ctx, "Vera Viewer", "viewer", ["de-berlin-mitte"])
    koeln = await create_staff(ctx, "Karl Köln", "staff", ["de-koeln"])
    admin = await create_staff(ctx, "Ada Admin", "admin", [])
    return {
        "berlin": berlin.token,
        "viewer": viewer.token,
        "koeln": koeln.token,
        "admin": admin.token,
    }


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CASE = {
    "region": "de-berlin-mitte",
    "kind": "contact",
    "quarantine_start": "2026-11-24",
    "quarantine_end": "2026-12-07",
    "language": "de",
    "staff_reference": "BM-2026-0042",
}


async def assert_problem(response, status: int, *fields: str) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    named = {error["field"] for error in body.get("errors", [])}
    for field in fields:
        assert field in named or field in body["detail"], body
    return body


async def test_register_and_read_a_case(client: TestClient, tokens: dict[str, str]) -> None:
    response = await client.post("/api/v1/cases", json=CASE, headers=auth(tokens["berlin"]))
    assert response.status == 201, await response.text()
    created = await response.json()
    case_id = created["id"]
    assert response.headers["Location"] == f"/api/v1/cases/{case_id}"
    assert created["status"] == "registered" and created["activated"] is False
    assert created["deep_link"] == f"https://t.me/DiaryTestBot?start={created['activation_code']}"
    assert len(created["activation_code"]) >= 16
    assert created["code_expires_at"].startswith("2026-11-29")  # 72 h after the fixed clock

    for token in (tokens["berlin"], tokens["viewer"], tokens["admin"]):
        response = await client.get(f"/api/v1/cases/{case_id}", headers=auth(token))
        assert response.status == 200
        case = await response.json()
        assert case["staff_reference"] == "BM-2026-0042" and "activation_code" not in case
        assert "chat_id" not in case
        response = await client.get(f"/api/v1/cases/{case_id}/entries", headers=auth(token))
        assert (await response.json()) == {"entries": []}


async def test_language_defaults_to_the_regions(client: TestClient, tokens: dict[str, str]) -> None:
    body = {k: v for k, v in CASE.items() if k != "language"} | {"region": "ua-kyiv"}
    response = await client.post("/api/v1/cases", json=body, headers=auth(tokens["admin"]))
    assert response.status == 201
    assert (await response.json())["language"] == "uk"


async def test_other_regions_are_invisible(client: TestClient, tokens: dict[str, str]) -> None:
    response = await client.post("/api/v1/cases", json=CASE, headers=auth(tokens["berlin"]))
    case_id = (await response.json())["id"]
    foreign = await client.get(f"/api/v1/cases/{case_id}", headers=auth(tokens["koeln"]))
    missing = await client.get(f"/api/v1/cases/{uuid.uuid4()}", headers=auth(tokens["koeln"]))
    foreign_body = await assert_problem(foreign, 404)
    missing_body = await assert_problem(missing, 404)
    assert foreign_body["title"] == missing_body["title"]
    entries = await client.get(f"/api/v1/cases/{case_id}/entries", headers=auth(tokens["koeln"]))
    await assert_problem(entries, 404)
    # Registering into another authority's region looks exactly like an unknown region.
    other = await client.post("/api/v1/cases", json=CASE, headers=auth(tokens["koeln"]))
    unknown = await client.post(
        "/api/v1/cases", json=CASE | {"region": "nowhere"}, headers=auth(tokens["koeln"])
    )
    assert (await assert_problem(other, 422, "region"))["detail"].replace(
        "de-berlin-mitte", "X"
    ) == (await assert_problem(unknown, 422, "region"))["detail"].replace("nowhere", "X")
    rounds = await client.post(
        "/api/v1/regions/de-berlin-mitte/rounds", headers=auth(tokens["koeln"])
    )
    await assert_problem(rounds, 404)


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"quarantine_end": "2026-11-20"}, ["quarantine_end"]),  # before start
        ({"quarantine_start": "yesterday"}, ["quarantine_start"]),
        ({"quarantine_end": "2026-02-30"}, ["quarantine_end"]),
        ({"quarantine_end": "2027-06-01"}, ["quarantine_end"]),  # too long
        # A typo in the year: far ahead, but a valid length.
        ({"quarantine_start": "9999-12-01", "quarantine_end": "9999-12-14"}, ["quarantine_start"]),
        ({"kind": "suspect"}, ["kind"]),
        ({"region": "atlantis"}, ["region"]),
        ({"region": ""}, ["region"]),
        ({"language": "xx"}, ["language"]),
        ({"staff_reference": "x" * 65}, ["staff_reference"]),
        ({"shoe_size": 44}, ["shoe_size"]),
        ({"kind": None}, ["kind"]),
        ({"quarantine_start": 20261124}, ["quarantine_start"]),
    ],
)
async def test_invalid_cases_name_the_field(
    client: TestClient, tokens: dict[str, str], change: dict, fields: list[str]
) -> None:
    response = await client.post(
        "/api/v1/cases", json=CASE | change, headers=auth(tokens["berlin"])
    )
    await assert_problem(response, 422, *fields)


async def test_missing_fields_are_all_named(client: TestClient, tokens: dict[str, str]) -> None:
    response = await client.post("/api/v1/cases", json={}, headers=auth(tokens["berlin"]))
    await assert_problem(response, 422, "region", "kind", "quarantine_start", "quarantine_end")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b"\xff\xfe", "application/json", 400),
        (b"region=x", "application/x-www-form-urlencoded", 422),
    ],
)
async def test_malformed_bodies(
    client: TestClient, tokens: dict[str, str], body: bytes, content_type: str, status: int
) -> None:
    response = await client.post(
        "/api/v1/cases", data=body, headers=auth(tokens["berlin"]) | {"Content-Type": content_type}
    )
    await assert_problem(response, status)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer sd_wrong"},
    ],
)
async def test_missing_or_wrong_tokens(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in [
        ("POST", "/api/v1/cases"),
        ("GET", f"/api/v1/cases/{uuid.uuid4()}"),
        ("POST", "/api/v1/regions/de-koeln/rounds"),
    ]:
        response = await client.request(method, path, json=CASE, headers=headers)
        await assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_viewers_cannot_change_anything(client: TestClient, tokens: dict[str, str]) -> None:
    response = await client.post("/api/v1/cases", json=CASE, headers=auth(tokens["viewer"]))
    await assert_problem(response, 403)
    response = await client.post(
        "/api/v1/regions/de-berlin-mitte/rounds", headers=auth(tokens["viewer"])
    )
    await assert_problem(response, 403)


async def test_unknown_routes_ids_and_methods(client: TestClient, tokens: dict[str, str]) -> None:
    await assert_problem(
        await client.get("/api/v1/cases/not-a-uuid", headers=auth(tokens["berlin"])), 404
    )
    await assert_problem(await client.get("/api/v1/nothing", headers=auth(tokens["berlin"])), 404)
    await assert_problem(await client.get("/nothing"), 404)
    response = await client.delete(f"/api/v1/cases/{uuid.uuid4()}", headers=auth(tokens["berlin"]))
    await assert_problem(response, 405)
    await assert_problem(
        await client.post("/api/v1/regions/atlantis/rounds", headers=auth(tokens["admin"])), 404
    )


async def test_a_round_without_activated_cases_sends_nothing(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/regions/de-muenchen/rounds", headers=auth(tokens["admin"])
    )
    assert response.status == 202
    assert (await response.json())["prompts"] == 0


async def test_health_and_readiness(client: TestClient) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status == 200 and (await response.json())["status"] == "ready"


async def test_not_ready_while_the_database_takes_no_writes(
    client: TestClient, ctx: ServiceContext
) -> None:
    """A standby (the old primary after a failover) answers reads but not writes: not ready,
    and the pool's connections are replaced so the next ones look for the primary."""

    async def read_only(on: bool) -> None:
        async with ctx.db.pool.acquire() as conn:
            await conn.execute("SET default_transaction_read_only = off")
            name = await conn.fetchval("SELECT current_database()")
            setting = "= on" if on else "TO DEFAULT"
            await conn.execute(
                f'ALTER DATABASE "{name}" SET default_transaction_read_only {setting}'
            )
        await ctx.db.pool.expire_connections()

    await read_only(True)
    try:
        response = await client.get("/readyz")
        assert response.status == 503
        assert "accepts no writes" in (await response.json())["detail"]
    finally:
        await read_only(False)
    assert (await client.get("/readyz")).status == 200


async def test_registration_dates_are_stored_as_given(
    client: TestClient, tokens: dict[str, str]
) -> None:
    response = await client.post("/api/v1/cases", json=CASE, headers=auth(tokens["berlin"]))
    case = await response.json()
    assert date.fromisoformat(case["quarantine_start"]) == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("method", "path", "token", "request_args", "field"),
    [
        ("get", "/api/v1/audit", "admin", {"params": {"action": "case.read\x00"}}, "action"),
        ("get", "/api/v1/audit", "admin", {"params": {"region": "\x00"}}, "region"),
        ("get", "/api/v1/cases", "berlin", {"params": {"region": "de\x00"}}, "region"),
        ("post", "/api/v1/cases", "berlin", {"json": CASE | {"staff_reference": "A\x00"}}, None),
        (
            "post",
            "/api/v1/broadcasts",
            "berlin",
            {"json": {"texts": {"de": "Hallo\x00"}, "regions": ["de-berlin-mitte"]}},
            "texts",
        ),
    ],
)
async def test_a_nul_character_in_text_is_refused_by_name(
    client: TestClient,
    tokens: dict[str, str],
    method: str,
    path: str,
    token: str,
    request_args: dict,
    field: str | None,
) -> None:
    """PostgreSQL cannot store U+0000 in TEXT (asyncpg: CharacterNotInRepertoireError): a
    NUL anywhere in a text query parameter or body field is a 422 naming it, not a 500."""
    response = await getattr(client, method)(path, headers=auth(tokens[token]), **request_args)
    body = await assert_problem(response, 422, field or "staff_reference")
    assert "NUL" in body["detail"]
