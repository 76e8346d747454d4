"""What staff send to citizens is in the audit log with who sent it (issue 20): a round, once
per slot, and a broadcast with its text."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient

from backend.services.context import ServiceContext
from backend.services.staff import create_staff

REGION = "de-muenchen"  # no other test of this module sends there


async def test_a_round_and_a_broadcast_are_audited_and_a_round_is_once_per_slot(
    service: TestClient, ctx: ServiceContext
) -> None:
    staff = await create_staff(ctx, "Rita Rund", "staff", [REGION])
    headers = {"Authorization": f"Bearer {staff.token}"}
    first = await service.post(f"/api/v1/regions/{REGION}/rounds", headers=headers)
    assert first.status == 202, await first.text()
    second = await service.post(f"/api/v1/regions/{REGION}/rounds", headers=headers)
    assert second.status == 409
    assert "already" in (await second.json())["detail"]
    notice = {"regions": [REGION], "texts": {"de": "Die Hotline ist heute bis 20 Uhr besetzt."}}
    sent = await service.post("/api/v1/broadcasts", json=notice, headers=headers)
    assert sent.status in (201, 202), await sent.text()

    rows = await ctx.db.fetch(
        "SELECT action, detail FROM audit_log WHERE staff_id = $1 AND region = $2 "
        "AND action IN ('round.start', 'broadcast.create') ORDER BY action",
        staff.staff_id,
        REGION,
    )
    assert [row["action"] for row in rows] == ["broadcast.create", "round.start"]
    broadcast, started = (json.loads(row["detail"]) for row in rows)
    assert broadcast["texts"] == notice["texts"] and broadcast["urgent"] is False
    assert started["round"] == (await first.json())["round_id"]
