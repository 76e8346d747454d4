"""Two real ``symptom-diary serve`` processes on one database behave as one service: the round
is created and sent once, an alert is posted once, the Telegram budget is shared (the
loopback Bot API enforces Telegram's limits and answers 429 to a doubled rate), and when the
instance holding the leases is killed the other takes over polling and sending.

The processes run on the wall clock, so the region's prompt time is set a minute in the past
and both instances catch the round up as they start, racing for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from backend.config.regions import load_regions
from backend.domain.cases import NewCase
from backend.storage import cases as case_store
from backend.storage.database import Database
from backend.storage.regions import upsert_regions
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN
from tests.test_end_to_end import has_button
from tests.test_escalations import alert_in, answer
from tests.waiting import eventually

REGION = "zz-instances"
GROUP = -1_007_000_000_000
CHATS = range(7_000_001, 7_000_121)  # 120 prompts: four seconds at Telegram's 30 a second
LEASE_SECONDS = 4


@dataclass
class Instance:
    name: str
    process: asyncio.subprocess.Process
    port: int
    log: Path

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.strip()]


async def is_ready(port: int) -> bool:
    """Whether the instance on ``port`` answers /readyz with 200."""
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                return response.status == 200
    except aiohttp.ClientError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def regions_file(directory: Path) -> Path:
    prompt = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    path = directory / "regions.toml"
    path.write_text(
        f"""
[[regions]]
id = "{REGION}"
name = "Gesundheitsamt Probe"
timezone = "UTC"
languages = ["en"]
prompt_times = ["{prompt}"]
authority_chat_id = {GROUP}
"""
    )
    return path


async def start(name: str, settings: dict[str, str], repo_root: Path, directory: Path) -> Instance:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIARY_")}
    env.update(settings, DIARY_HTTP_PORT=str(port))
    log = directory / f"{name}.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "backend.cli",
            "serve",
            cwd=repo_root,
            env=env,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    instance = Instance(name, process, port, log)

    async def ready() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"{name} exited:\n" + "\n".join(instance.lines()))
        return await is_ready(port)

    await eventually(ready, f"{name} ready")
    return instance


@pytest.fixture
async def instances(
    database_url: str, db: Database, bot_api: SandboxBotApi, repo_root: Path, tmp_path: Path
) -> AsyncIterator[list[Instance]]:
    path = regions_file(tmp_path)
    today = datetime.now(UTC).date()

    async def monitored(conn) -> None:  # noqa: ANN001
        await upsert_regions(conn, list(load_regions(path).values()))
        for chat_id in CHATS:
            case = await case_store.insert_case(
                conn,
                NewCase(
                    REGION, "contact", today - timedelta(days=2), today + timedelta(days=9), "en"
                ),
                created_by=None,
            )
            await case_store.bind_chat(conn, REGION, case.id, chat_id, datetime.now(UTC))

    await db.transaction(monitored)
    for chat_id in CHATS:
        bot_api.user(chat_id, f"P{chat_id}", "en")
    bot_api.enforce_limits = True
    settings = {
        "DIARY_DATABASE_URL": database_url,
        "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
        "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        "DIARY_REGIONS_FILE": str(path),
        "DIARY_LEASE_SECONDS": str(LEASE_SECONDS),
        "DIARY_LOG_FORMAT": "json",
    }
    started = await asyncio.gather(
        start("a", settings, repo_root, tmp_path), start("b", settings, repo_root, tmp_path)
    )
    yield list(started)
    for instance in started:
        if instance.process.returncode is None:
            instance.process.kill()
            await instance.process.wait()


async def holders(db: Database) -> dict[str, int]:
    """Lease name → the pid holding it (holders are named host:pid:random)."""
    rows = await db.fetch("SELECT name, holder FROM leases WHERE expires_at > now()")
    return {row["name"]: int(row["holder"].split(":")[1]) for row in rows}


async def unsent(db: Database) -> int:
    rows = await db.fetch(
        "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
    )
    return rows[0]["n"]


def prompts(bot_api: SandboxBotApi, chat_id: int) -> list[dict]:
    return [m for m in bot_api.user(chat_id).messages if has_button("well")(m)]


async def test_two_instances_act_as_one_and_survive_losing_one(
    instances: list[Instance], db: Database, bot_api: SandboxBotApi
) -> None:
    pids = {instance.process.pid: instance for instance in instances}

    # Both caught the round up at start-up; it exists once and everyone got one prompt.
    async def everyone_prompted() -> bool:
        return all(prompts(bot_api, chat_id) for chat_id in CHATS) and not await unsent(db)

    await eventually(everyone_prompted, "every citizen prompted")
    rounds = await db.fetch("SELECT count(*) AS n FROM rounds WHERE region = $1", REGION)
    assert rounds[0]["n"] == 1
    assert all(len(prompts(bot_api, chat_id)) == 1 for chat_id in CHATS)
    # Two senders at 30 a second would have drawn 429s from the loopback Bot API.
    assert bot_api.stats["429"] == 0
    leases = await holders(db)
    assert set(leases) == {"poller", "sender", "alert-checks"}
    assert set(leases.values()) <= set(pids)

    # A worrying answer raises its alerts (one per rule it crosses), posted together in one
    # message, once, whichever instance polled the answer.
    group = bot_api.group(GROUP, "Lagedienst")
    await bot_api.add_bot_to_group(group, by=bot_api.user(7_100_000, "Duty", "en"))
    await answer(bot_api.user(CHATS[0]), "39.6", ("Cough",))
    await group.wait_for_message(alert_in(group, "39.6"), timeout=30)
    await eventually(lambda: _none_unsent(db), "outbox drained")
    alerts = [m for m in group.messages if alert_in(group, "")(m)]
    escalations = await db.fetch(
        "SELECT coalesce(post_id, id) AS post FROM escalations WHERE region = $1", REGION
    )
    assert len(escalations) >= 2 and len(alerts) == len({r["post"] for r in escalations}) == 1
    assert len({str(m["reply_markup"]) for m in alerts}) == len(alerts)  # no alert twice

    # Kill the sending instance outright: no clean shutdown, its leases simply lapse.
    victim = pids[leases["sender"]]
    survivor = next(i for i in instances if i is not victim)
    victim.process.send_signal(signal.SIGKILL)
    await victim.process.wait()
    citizen = bot_api.user(CHATS[1])
    await citizen.send_command("status")
    reply = await citizen.wait_for_message(
        lambda m: not has_button("well")(m), timeout=LEASE_SECONDS * 5
    )
    assert reply["text"]

    async def survivor_holds_all() -> bool:
        held = await holders(db)
        return held == dict.fromkeys(("poller", "sender", "alert-checks"), survivor.process.pid)

    await eventually(survivor_holds_all, "the survivor took every lease over")

    # The survivor shuts down cleanly and hands its leases back at once.
    survivor.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(survivor.process.wait(), 30) == 0
    assert await holders(db) == {}

    # Logs were JSON lines throughout; lines written while handling an update name it.
    records = [json.loads(line) for line in survivor.lines() + victim.lines()]
    assert any(r.get("update_id") for r in records if " queued for the alert rules" in r["message"])
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)


async def _none_unsent(db: Database) -> bool:
    return not await unsent(db)
