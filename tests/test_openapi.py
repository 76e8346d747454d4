"""The OpenAPI document describes every route, and schemathesis fuzzes the live service with
it: hundreds of generated requests, no 5xx, every response as documented."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from backend.api.openapi import build
from backend.api.registry import API
from tests.live_service import LiveService, live_service

DOCUMENT = build()
schema = schemathesis.openapi.from_dict(DOCUMENT)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
REQUESTS: dict = {"count": 0, "statuses": {}}


def test_every_route_is_documented() -> None:
    documented = {
        (method.upper(), path)
        for path, operations in DOCUMENT["paths"].items()
        for method in operations
    }
    for spec in API.specs:
        assert (spec.method, "/api/v1" + spec.path) in documented
    assert DOCUMENT["openapi"].startswith("3.1")


def test_conflicts_are_documented_where_they_can_happen() -> None:
    """Every route whose service can raise Conflict (a closed case, a taken or resolved
    alert, the last administrator) declares 409, and no other route does."""
    declared = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        if "409" in operation["responses"]
    }
    assert declared == {
        ("PATCH", "/cases/{case_id}"),
        ("POST", "/cases/{case_id}/close"),
        ("POST", "/cases/{case_id}/reopen"),
        ("POST", "/cases/{case_id}/activation-code"),
        ("POST", "/escalations/{escalation_id}/claim"),
        ("POST", "/escalations/{escalation_id}/resolve"),
        ("PATCH", "/staff/{staff_id}"),
    }


@pytest.fixture(scope="module")
def live(database_url: str) -> Iterator[LiveService]:
    with live_service(database_url) as service:
        yield service
    print("schemathesis requests:", REQUESTS)
    assert REQUESTS["count"] >= 500, REQUESTS


@pytest.fixture(scope="module", params=["admin", "staff"])
def token(live: LiveService, request: pytest.FixtureRequest) -> str:
    return live.tokens[request.param]


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_live_service_keeps_its_contract(case, live: LiveService, token: str) -> None:
    REQUESTS["count"] += 1
    response = case.call_and_validate(
        base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
    )
    statuses = REQUESTS["statuses"]
    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
