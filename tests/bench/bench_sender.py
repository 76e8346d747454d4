"""Benchmarks 2 and 4: the outbox sender against the loopback Bot API server (in its own
process, so that it does not take the sender's CPU; on two cores it takes most of the other).

2. capacity: messages per second with every limit off (aim: at least 3,000/s, so one process
   uses paid broadcasts, 1,000/s, with room to spare), with the CPU time per message of the
   sender's process and of the Bot API stub's, which the machine's load moves far less;
4. alert latency: while a 100,000-message broadcast drains (paid mode, 1000/s), 20 authority
   alerts, p99 within 1 s of their commit.

Benchmark 3 (pacing) is in bench_pacing.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from telegram import Bot

from backend.domain.clock import SystemClock
from backend.domain.messages import Kind, Outgoing, Priority
from backend.i18n import catalogs
from backend.services.context import Signal
from backend.storage import outbox
from backend.storage.database import Database
from bot.aiohttp_request import AiohttpRequest
from bot.render import Renderer
from bot.sender import OutboxSender
from tests.bench.common import drop_database, fresh_database, latency_summary
from tests.bench.sandbox_process import FIRST_GROUP, TOKEN

FIRST_CHAT = 2_000_000_000


class Sandbox:
    def __init__(self, process: asyncio.subprocess.Process, base_url: str):
        self.process = process
        self.base_url = base_url
        self.arrivals: dict[str, float] = {}  # text -> unix time it reached a group
        self.timeline: list[tuple[int, float]] = []  # (group chat id, unix time), in order
        self.arrived = asyncio.Condition()
        self.stats: dict = {}  # what its flood limits let through, once it has stopped

    async def read_arrivals(self) -> None:
        assert self.process.stdout
        while line := (await self.process.stdout.readline()).decode():
            if line.startswith("STATS "):
                self.stats = json.loads(line.split(" ", 1)[1])
            elif line.startswith("ARRIVED "):
                _, chat_id, at, text = line.rstrip("\n").split(" ", 3)
                async with self.arrived:
                    self.arrivals[json.loads(text).rsplit("\n", 1)[-1]] = float(at)
                    self.timeline.append((int(chat_id), float(at)))
                    self.arrived.notify_all()


@asynccontextmanager
async def sandbox(
    users: int, groups: int = 0, limits: bool = False, lazy: bool = False
) -> AsyncIterator[Sandbox]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.bench.sandbox_process",
        "--users",
        str(users),
        "--first-chat",
        str(FIRST_CHAT),
        "--groups",
        str(groups),
        *(["--limits"] if limits else []),
        *(["--lazy-users"] if lazy else []),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    line = (await process.stdout.readline()).decode().split()
    assert line[:1] == ["READY"], line
    box = Sandbox(process, line[1])
    reader = asyncio.create_task(box.read_arrivals())
    try:
        yield box
    finally:
        process.stdin.close()
        await process.wait()
        await asyncio.wait_for(reader, 10)  # up to its STATS line


async def fill(db: Database, count: int, priority: Priority = Priority.BROADCAST) -> None:
    async with db.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload)
            SELECT 'de-koeln', 'bench:' || n::TEXT, $2, 'broadcast', $3 + n, 'en',
                   '{"text": "Bench notice"}'::JSONB
            FROM generate_series(0, $1 - 1) AS n
            """,
            count,
            int(priority),
            FIRST_CHAT,
        )
        await conn.execute("VACUUM ANALYZE outbox")


def new_sender(db: Database, bot: Bot, rate: float, **options) -> OutboxSender:
    return OutboxSender(
        db, bot, Renderer(catalogs(), SystemClock()), Signal(), rate=rate, **options
    )


def bot_for(box: Sandbox) -> Bot:
    request = AiohttpRequest(connection_pool_size=64, pool_timeout=30)
    return Bot(TOKEN, base_url=box.base_url, request=request)


async def drain(sender: OutboxSender) -> float:
    """Run the sender until nothing is due; return the seconds it took."""
    started = time.perf_counter()
    task = asyncio.create_task(sender.run())
    await sender.drained()
    elapsed = time.perf_counter() - started
    sender.stop()
    await task
    return elapsed


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def capacity(count: int = int(os.environ.get("BENCH_CAPACITY_MESSAGES", 20_000))) -> dict:
    db = await fresh_database()
    try:
        await fill(db, count)
        async with sandbox(users=count) as box, bot_for(box) as bot:
            sender = new_sender(db, bot, rate=1_000_000, batch=500)  # every limit off
            ours, stubs = cpu_seconds(os.getpid()), cpu_seconds(box.process.pid)
            elapsed = await drain(sender)
            ours, stubs = cpu_seconds(os.getpid()) - ours, cpu_seconds(box.process.pid) - stubs
        sent = (await db.fetch("SELECT count(sent_at) AS n FROM outbox"))[0]["n"]
        rate = sent / elapsed
        return {
            "messages": sent,
            "seconds": elapsed,
            "per_second": rate,
            "sender_cpu_us": ours / sent * 1e6,
            "stub_cpu_us": stubs / sent * 1e6,
            "met": rate >= 3000,
        }
    finally:
        await drop_database(db)


async def alert_latency(broadcast: int = 100_000, alerts: int = 20, groups: int = 4) -> dict:
    db = await fresh_database()
    try:
        await fill(db, broadcast)
        async with sandbox(users=broadcast, groups=groups, limits=True) as box, bot_for(box) as bot:
            sender = new_sender(db, bot, rate=1000, paid_broadcast=True)
            task = asyncio.create_task(sender.run())
            await asyncio.sleep(2)  # the broadcast is in full flow
            committed: dict[str, float] = {}
            for number in range(alerts):
                text = f"ALERT {number}"
                alert = Outgoing(
                    chat_id=FIRST_GROUP - number % groups,
                    kind=Kind.BROADCAST,
                    language="en",
                    priority=Priority.ALERT,
                    dedup_key=f"alert:{number}",
                    payload={"text": text},
                )
                await db.transaction(outbox.enqueue, [alert])
                committed[text] = time.time()
                sender.signal.notify()
                await asyncio.sleep(1.0)  # one alert a second, each group every 4 s
            async with box.arrived:
                await asyncio.wait_for(
                    box.arrived.wait_for(lambda: set(committed) <= set(box.arrivals)), 30
                )
            sender.stop()
            await task
        sent = (await db.fetch("SELECT count(sent_at) AS n FROM outbox"))[0]["n"]
        summary = latency_summary([box.arrivals[text] - at for text, at in committed.items()])
        return {
            **summary,
            "broadcast_sent_meanwhile": sent - alerts,
            "429s": sender.counts["429"],
            "met": summary["p99_s"] <= 1.0 and sender.counts["429"] == 0,
        }
    finally:
        await drop_database(db)


async def main() -> dict:
    return {"capacity": await capacity(), "alert_latency": await alert_latency()}


if __name__ == "__main__":
    import json

    which = sys.argv[1] if len(sys.argv) > 1 else None
    job = {"capacity": capacity, "alert_latency": alert_latency}.get(which, main)
    print(json.dumps(asyncio.run(job()), indent=2))
