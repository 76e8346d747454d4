"""The service survives the loss of its database's primary, twice, on a real Patroni cluster.

Three PostgreSQL 15 members with synchronous replication and one etcd (``deploy/ha``, started
by ``tests/ha_cluster.py``), one real ``serve`` process given the multi-host URL. While a
5,000-case prompt round goes out, citizens answer and a broadcast drains, the primary is
killed with SIGKILL (Patroni and its PostgreSQL at once), restarted once the cluster has
recovered, and then the new primary is killed too. Afterwards: every answer the bot
acknowledged is stored, every message was delivered, none twice beyond one claimed batch per
kill, the round exists once.

The cluster runs deploy/ha/patroni.yml as shipped (TLS, passwords from the environment):
two short tests at the end check that its REST API takes changes only over HTTPS with the
password, and that no member logs the data of a failing statement.

Slow (a few minutes): marked ``failover``; ``make test`` leaves it out and ``make
test-failover`` (run by ``.ci/run``) runs it.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from backend.config.regions import load_regions
from backend.domain.cases import NewCase
from backend.storage import cases as case_store
from backend.storage.database import Database
from backend.storage.regions import upsert_regions
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN
from tests.ha_cluster import API_USER, Cluster, Member, api, start_cluster
from tests.test_database_server_logs import assert_not_logged, provoke_failing_statements
from tests.test_end_to_end import button_data, cli, has_button
from tests.test_instances import Instance, start
from tests.waiting import eventually

pytestmark = [pytest.mark.failover, pytest.mark.timeout(900)]

REGION = "zz-failover"
CASES = 5_000
FIRST_CHAT = 8_000_001
CHATS = range(FIRST_CHAT, FIRST_CHAT + CASES)
ANSWERING = 200  # citizens who answer: half just before each kill
RATE = 150  # messages/s: the round and the broadcast each take about half a minute
NOTICE = "Failover notice: the health authority's office is closed on Friday."


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = start_cluster()
    try:
        yield started
    finally:
        started.stop()


def regions_file(directory: Path) -> Path:
    # The serve process runs on the wall clock: a prompt time a minute ago is caught up as it
    # starts (as in tests/test_instances.py).
    prompt = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    path = directory / "regions.toml"
    path.write_text(
        f"""
[[regions]]
id = "{REGION}"
name = "Gesundheitsamt Ausfallprobe"
timezone = "UTC"
languages = ["en"]
prompt_times = ["{prompt}"]
"""
    )
    return path


@pytest.fixture
async def service(
    cluster: Cluster, bot_api: SandboxBotApi, repo_root: Path, tmp_path: Path
) -> AsyncIterator[tuple[Instance, Database]]:
    await cli(repo_root, cluster.url, "migrate")
    db = await Database.connect(cluster.url)
    path = regions_file(tmp_path)
    today = datetime.now(UTC).date()

    async def monitored(conn: asyncpg.Connection) -> None:
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
    settings = {
        "DIARY_DATABASE_URL": cluster.url,
        "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
        "DIARY_TELEGRAM_API_URL": bot_api.base_url,
        "DIARY_REGIONS_FILE": str(path),
        "DIARY_PAID_BROADCAST": "1",
        "DIARY_SEND_RATE": str(RATE),
        "DIARY_LEASE_SECONDS": "6",
    }
    instance = await start("serve", settings, repo_root, tmp_path)
    try:
        yield instance, db
    finally:
        if instance.process.returncode is None:
            instance.process.kill()
            await instance.process.wait()
        await db.close()


class Probe:
    """Writes through the multi-host URL every 100 ms, each on a new connection, as a new
    client of the cluster would: the first write after a kill ends the outage."""

    def __init__(self, url: str):
        self.url = url
        self.successes: list[float] = []

    async def run(self) -> None:
        conn = await asyncpg.connect(self.url)
        await conn.execute("CREATE TABLE IF NOT EXISTS failover_probe (at FLOAT8 NOT NULL)")
        await conn.close()
        while True:
            try:
                conn = await asyncpg.connect(self.url, timeout=2)
                try:
                    await conn.execute("INSERT INTO failover_probe VALUES ($1)", time.time())
                finally:
                    await conn.close()
                self.successes.append(time.monotonic())
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                pass
            await asyncio.sleep(0.1)

    async def first_write_after(self, moment: float, timeout: float = 120) -> float:
        await eventually(_true(lambda: any(t > moment for t in self.successes)), "a write", timeout)
        return min(t for t in self.successes if t > moment) - moment


def _true(check):  # noqa: ANN001, ANN202 - an async wrapper for eventually()
    async def wrapped() -> bool:
        return check()

    return wrapped


async def ready_after(instance: Instance, moment: float, timeout: float = 120) -> float:
    """Seconds from ``moment`` until the service's /readyz answers 200 again."""

    async def ready() -> bool:
        try:
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{instance.port}/readyz"
                async with http.get(url, timeout=aiohttp.ClientTimeout(total=3)) as response:
                    return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    await eventually(ready, "ready again", timeout)
    return time.monotonic() - moment


async def staff_token(repo_root: Path, url: str, instance: Instance) -> str:
    """``symptom-diary staff create`` against the cluster, with the service's regions."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIARY_")}
    env |= {
        "DIARY_DATABASE_URL": url,
        "DIARY_REGIONS_FILE": str(instance.log.parent / "regions.toml"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "staff", "create", "--name", "Duty",
        "--role", "staff", "--region", REGION,
        cwd=repo_root, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode().split()[-1]


async def answer_well(bot_api: SandboxBotApi, chat_id: int, acknowledged: set[int]) -> None:
    """One tap on "I feel well"; acknowledged once the bot answers the press (the answer is
    written to the outbox in the same transaction as the entry)."""
    citizen = bot_api.user(chat_id)
    prompt = next(m for m in citizen.messages if has_button("well")(m))
    query = await citizen.press(prompt, button_data(prompt, "well"))
    answer = await citizen.wait_for_answer(query, timeout=240)
    assert answer["text"] == "Thank you!", answer
    acknowledged.add(chat_id)


def prompted(bot_api: SandboxBotApi) -> list[int]:
    """The people whose prompt has arrived (answered or not). Not every one with a message:
    the broadcast, queued at once, shares each batch with the prompts that are due (a round is
    spread at the sending rate), so someone may read the notice before the question."""
    return [c for c in CHATS if any(_questionnaire(m) for m in bot_api.user(c).messages)]


def _questionnaire(message: dict) -> bool:
    keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
    return any(b.get("callback_data", "").startswith("q:") for row in keyboard for b in row)


def noticed(bot_api: SandboxBotApi) -> int:
    return sum(
        1 for c in CHATS if any(NOTICE in m.get("text", "") for m in bot_api.user(c).messages)
    )


async def kill_primary(cluster: Cluster, probe: Probe, instance: Instance) -> tuple[Member, dict]:
    victim = cluster.leader()
    assert victim is not None
    moment = time.monotonic()
    cluster.kill(victim)
    writes = await probe.first_write_after(moment)
    ready = await ready_after(instance, moment)
    promoted = cluster.wait_healthy(replicas=1)
    return victim, {
        "killed": victim.name,
        "promoted": promoted.name,
        "writes_again_s": round(writes, 2),
        "service_ready_again_s": round(ready, 2),
    }


async def test_the_service_survives_two_primaries_dying(
    cluster: Cluster, service: tuple[Instance, Database], bot_api: SandboxBotApi, repo_root: Path
) -> None:
    instance, db = service
    probe = Probe(cluster.url)
    probing = asyncio.create_task(probe.run())
    acknowledged: set[int] = set()
    answering: list[asyncio.Task] = []
    figures: dict = {"kills": []}
    try:
        # The broadcast is queued at once: it shares the batches with the prompts that are due,
        # and drains after the round.
        token = await staff_token(repo_root, cluster.url, instance)
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{instance.port}/api/v1/broadcasts"
            body = {"regions": [REGION], "texts": {"en": NOTICE}}
            async with http.post(url, json=body, headers=headers) as response:
                assert response.status == 202, await response.text()

        # Kill 1: while the round goes out, with 100 answers on their way.
        await eventually(_true(lambda: len(prompted(bot_api)) >= 1_500), "1,500 prompts", 120)
        first_wave = prompted(bot_api)[:100]
        answering += [
            asyncio.create_task(answer_well(bot_api, c, acknowledged)) for c in first_wave
        ]
        victim, kill = await kill_primary(cluster, probe, instance)
        kill["prompts_before"] = len(first_wave)
        figures["kills"].append(kill)

        # The dead node comes back (as an operator or systemd would restart it) and rejoins
        # as a replica; then the new primary dies while the broadcast drains.
        cluster.start_member(victim)
        cluster.wait_healthy(replicas=2, timeout=180)
        await eventually(_true(lambda: len(prompted(bot_api)) >= 1_600), "more prompts", 180)
        second_wave = [c for c in prompted(bot_api) if c not in first_wave][:100]
        await eventually(_true(lambda: noticed(bot_api) >= 200), "the broadcast draining", 300)
        answering += [
            asyncio.create_task(answer_well(bot_api, c, acknowledged)) for c in second_wave
        ]
        _, kill = await kill_primary(cluster, probe, instance)
        kill["notices_before"] = noticed(bot_api)
        figures["kills"].append(kill)

        await asyncio.gather(*answering)

        async def drained() -> bool:
            rows = await db.fetch(
                "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
            )
            return rows[0]["n"] == 0

        await eventually(drained, "every message sent", 300)
    finally:
        probing.cancel()
        for task in answering:
            task.cancel()

    # Every acknowledged answer is stored, once.
    answered = first_wave + second_wave
    assert acknowledged == set(answered)
    rows = await db.fetch(
        """
        SELECT c.chat_id, count(*) AS n FROM diary_entries e
        JOIN cases c ON c.region = e.region AND c.id = e.case_id
        WHERE e.region = $1 GROUP BY c.chat_id
        """,
        REGION,
    )
    stored = {row["chat_id"]: row["n"] for row in rows}
    assert set(stored) == set(answered) and set(stored.values()) == {1}

    # Every message delivered; repeats only from a batch sent but not yet recorded at a kill.
    # A repeated answer to a button press is refused by Telegram (it was answered) and
    # recorded as failed: the only failures allowed, and they count as repeats.
    failed = await db.fetch(
        "SELECT kind, failure, last_error FROM outbox WHERE failed_at IS NOT NULL"
    )
    assert all(
        row["kind"] == "answer_callback"
        and row["failure"] == "best_effort"
        and "query is too old" in row["last_error"].lower()
        for row in failed
    ), [dict(row) for row in failed[:3]]
    counts = {c: len(bot_api.user(c).messages) for c in CHATS}
    missing = [c for c, n in counts.items() if n < 2]  # the prompt and the notice
    duplicates = sum(n - 2 for n in counts.values() if n > 2)
    batch = max(1, RATE // 4)
    assert not missing, missing[:10]
    assert duplicates + len(failed) <= batch * len(figures["kills"]), (duplicates, len(failed))
    rounds = await db.fetch("SELECT count(*) AS n FROM rounds WHERE region = $1", REGION)
    assert rounds[0]["n"] == 1

    figures |= {
        "acknowledged": len(acknowledged),
        "stored": sum(stored.values()),
        "messages": sum(counts.values()),
        "duplicates": duplicates,
        "repeated_answers_refused": len(failed),
        "rounds": rounds[0]["n"],
    }
    print("failover figures:", json.dumps(figures))


def test_the_rest_api_takes_changes_only_over_https_with_the_password(cluster: Cluster) -> None:
    leader = cluster.leader()
    assert leader is not None
    with pytest.raises((OSError, http.client.HTTPException)):
        urllib.request.urlopen(f"http://127.0.0.1:{leader.api_port}/patroni", timeout=5)
    # A switchover naming no real member: refused even when heard, so nothing moves.
    switch = (leader.api_port, leader.ca, "/switchover", "POST", {"leader": "nobody"})
    assert api(*switch, auth=None)[0] == 401
    assert api(*switch, auth=(API_USER, "not-the-password"))[0] == 401
    assert api(*switch)[0] == 412  # past authentication: "leader name does not match"


async def test_no_member_logs_the_data_of_a_failing_statement(cluster: Cluster) -> None:
    conn = await asyncpg.connect(cluster.url)
    try:
        await provoke_failing_statements(conn)
    finally:
        await conn.close()
    # Patroni passes its PostgreSQL's output on: each member's log holds both.
    assert_not_logged([member.log for member in cluster.members])
