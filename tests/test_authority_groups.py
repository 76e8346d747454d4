"""Authority chats configured in the regions file: a group that becomes a supergroup keeps
receiving the region's alerts under its new id and is recognised there, and a region's
fallback chat (where unclaimed urgent alerts are reposted) lets the region's staff act."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from backend.config.regions import load_regions
from backend.config.settings import Settings
from backend.domain.cases import Case, NewCase
from backend.domain.clock import FixedClock
from backend.domain.rules import Finding, Rule
from backend.i18n import catalogs
from backend.server import RUNNING
from backend.services import alert_sweeps, escalations
from backend.services.context import RegionDirectory, ServiceContext, Signal
from backend.services.staff import authenticate, create_staff
from backend.storage import cases as case_store
from backend.storage.database import Database
from bot.sandbox import SandboxBotApi, SandboxUser
from tests.conftest import BOT_TOKEN

REGION, OTHER = "zz-filed", "zz-elsewhere"
GROUP, SUPERGROUP, FALLBACK = -1_006_000_000, -1_006_000_999, -1_006_100_000

REGIONS = f"""
[[regions]]
id = "{REGION}"
name = "Gesundheitsamt Akte"
timezone = "UTC"
languages = ["en"]
prompt_times = ["09:00"]
authority_chat_id = {GROUP}

[regions.rules]
fallback_chat_id = {FALLBACK}

[[regions]]
id = "{OTHER}"
name = "Gesundheitsamt Anderswo"
timezone = "UTC"
languages = ["en"]
prompt_times = ["09:00"]
"""


@pytest.fixture
def regions_file(tmp_path: Path) -> Path:
    path = tmp_path / "regions.toml"
    path.write_text(REGIONS)
    return path


@pytest.fixture
def service_settings(database_url: str, bot_api: SandboxBotApi, regions_file: Path) -> Settings:
    return Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
            "DIARY_HTTP_PORT": "0",
            "DIARY_REGIONS_FILE": str(regions_file),
        }
    )


@pytest.fixture
def ctx(db: Database, clock: FixedClock, regions_file: Path) -> ServiceContext:
    return ServiceContext(
        db=db,
        regions=RegionDirectory(load_regions(regions_file)),
        clock=clock,
        languages=catalogs().languages,
        outbox=Signal(),
    )


async def linked(
    service: TestClient, bot_api: SandboxBotApi, ctx: ServiceContext, region: str, user_id: int
) -> SandboxUser:
    token = (await create_staff(ctx, f"Staff{user_id}", "staff", [region])).token
    response = await service.post(
        "/api/v1/staff/me/telegram-link", headers={"Authorization": f"Bearer {token}"}
    )
    user = bot_api.user(user_id, f"Staff{user_id}", "en")
    await user.send_command("start", (await response.json())["code"])
    await user.wait_for_message()
    return user


async def urgent_alert(ctx: ServiceContext, chat_id: int) -> tuple[Case, list[int]]:
    """An urgent alert for a new active case; the chats its first posting was queued for."""
    region = ctx.regions.require(REGION)
    staff = await authenticate(ctx, (await create_staff(ctx, "Clerk", "staff", [REGION])).token)
    finding = Finding(Rule.RED_FLAG, "urgent", Decimal("2.8"), ({"red_flags": ["chest_pain"]},))

    async def raise_it(conn) -> tuple[Case, list[int]]:  # noqa: ANN001
        new = NewCase(REGION, "contact", date(2026, 11, 22), date(2026, 12, 5), "en")
        case = await case_store.insert_case(conn, new, created_by=staff.id)
        case = await case_store.bind_chat(conn, REGION, case.id, chat_id, ctx.clock.now())
        escalation = await escalations.raise_and_post(
            ctx, conn, region, case, finding, ctx.clock.now()
        )
        rows = await conn.fetch(
            "SELECT chat_id FROM outbox WHERE subject_id = $1 AND kind = 'alert'", escalation.id
        )
        return case, [row["chat_id"] for row in rows]

    result = await ctx.db.transaction(raise_it)
    ctx.outbox.notify()
    return result


async def migrated(ctx: ServiceContext, old: int) -> bool:
    rows = await ctx.db.fetch("SELECT 1 FROM chat_migrations WHERE old_chat_id = $1", old)
    return bool(rows)


def claim_of(alert: dict) -> str:
    return alert["reply_markup"]["inline_keyboard"][0][0]["callback_data"]


async def test_a_filed_group_migrates_and_its_fallback_chat_works(
    service: TestClient, bot_api: SandboxBotApi, ctx: ServiceContext, clock: FixedClock
) -> None:
    erika = await linked(service, bot_api, ctx, REGION, 6101)
    bernd = await linked(service, bot_api, ctx, OTHER, 6102)
    group = bot_api.group(GROUP, title="Lagedienst")
    await bot_api.add_bot_to_group(group, by=erika)
    fallback = bot_api.group(FALLBACK, title="Rufbereitschaft")
    await bot_api.add_bot_to_group(fallback, by=erika)

    bot_api.migrate_group(group, new_chat_id=SUPERGROUP)
    for _ in range(200):  # the bot records the migration as it handles the update
        if await migrated(ctx, GROUP):
            break
        await asyncio.sleep(0.05)
    assert await migrated(ctx, GROUP)

    _, chats = await urgent_alert(ctx, 6201)
    assert chats == [SUPERGROUP]  # queued for the new id, not the dead one
    moved = bot_api.handle_for(SUPERGROUP)
    alert = await moved.wait_for_message(lambda m: ":c:" in str(m), timeout=30)
    query = await bernd.press(alert, claim_of(alert))
    refused = (await bernd.wait_for_answer(query))["text"]
    query = await erika.press(alert, claim_of(alert))
    assert (await erika.wait_for_answer(query))["text"] != refused
    claimed = await moved.wait_for_message(
        lambda m: m["message_id"] == alert["message_id"] and "Staff6101" in m["text"], timeout=30
    )
    assert ":c:" not in str(claimed.get("reply_markup"))

    # A second alert nobody claims is reposted to the fallback chat, where only the region's
    # staff may claim it.
    await urgent_alert(ctx, 6202)
    await moved.wait_for_message(lambda m: ":c:" in str(m), timeout=30)
    clock.advance(timedelta(minutes=15))
    assert await alert_sweeps.repost_unclaimed(ctx, REGION) == 1
    service.app[RUNNING].sender.signal.notify()
    reposted = await fallback.wait_for_message(lambda m: ":c:" in str(m), timeout=30)
    query = await bernd.press(reposted, claim_of(reposted))
    assert (await bernd.wait_for_answer(query))["text"] == refused
    query = await erika.press(reposted, claim_of(reposted))
    assert (await erika.wait_for_answer(query))["text"] != refused
    await fallback.wait_for_message(
        lambda m: m["message_id"] == reposted["message_id"] and "Staff6101" in m["text"],
        timeout=30,
    )
    rows = await ctx.db.fetch(
        "SELECT count(*) AS n FROM audit_log WHERE action = 'escalation.claim' AND region = $1 "
        "AND detail->>'via' = 'telegram'",
        REGION,
    )
    assert rows[0]["n"] == 2  # Claim pressed in a chat is audited like the API's
