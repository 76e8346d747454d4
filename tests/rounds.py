"""A prompt round for tests that need prompts sent, not the staff API's rules: a slot of its
own, as the schedule starts one. A round started by staff is once per slot and skips who has
answered it (issue 20), and the tests of a module share one database and one fixed clock."""

from __future__ import annotations

from uuid import uuid4

from aiohttp.test_utils import TestClient

from backend.api.keys import CONTEXT
from backend.services.rounds import RoundResult, start_round


async def new_round(service: TestClient, region: str) -> RoundResult:
    """Through the running service's own context, so that its sender is woken at once."""
    ctx = service.app[CONTEXT]
    return await start_round(ctx, region, "schedule", slot=f"test-{uuid4().hex[:8]}")
