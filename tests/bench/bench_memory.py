"""Benchmark 7: peak memory of one ``serve`` process while it expands a 1,000,000-case round
and sends the round's first 100,000 messages (aim: at most 150 MB resident).

A real ``symptom-diary serve`` (every role) on a database of a million active cases, talking
to the loopback Bot API server in its own process, in paid-broadcast mode (1,000/s) so that
100,000 messages take minutes, not an hour. A staff token asks for the round through the API,
as staff would. The peak is the kernel's own (VmHWM in /proc), sampled until the 100,000th
message is recorded sent; the resident size when the service was ready is reported beside it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import aiohttp

from tests.bench.bench_sender import FIRST_CHAT, sandbox
from tests.bench.common import drop_database, fresh_database, insert_active_cases
from tests.bench.sandbox_process import TOKEN

REGION = "de-koeln"
CASES = int(os.environ.get("BENCH_MEMORY_CASES", 1_000_000))
SENT = int(os.environ.get("BENCH_MEMORY_SENT", 100_000))
AIM_MB = 150
CLI = Path(sys.executable).with_name("symptom-diary")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_mb(pid: int) -> dict[str, float]:
    """Resident now and its peak so far, from the kernel (MB)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


async def _staff_token(env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        str(CLI), "staff", "create", "--name", "Bench", "--role", "admin",
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == 0, out
    return out.decode().strip().splitlines()[-1]


async def _sent(db) -> int:
    return (await db.fetch("SELECT count(sent_at) AS n FROM outbox"))[0]["n"]


async def memory() -> dict:
    db = await fresh_database()
    try:
        await insert_active_cases(db, REGION, CASES, first_chat=FIRST_CHAT)
        url = f"{db.server.partition('?')[0].rsplit('/', 1)[0]}/{db.name}"  # type: ignore[attr-defined]
        if "?" in db.server:  # type: ignore[attr-defined]
            url += "?" + db.server.partition("?")[2]  # type: ignore[attr-defined]
        async with sandbox(users=CASES, limits=True, lazy=True) as box:
            port = _free_port()
            env = {
                **os.environ,
                "DIARY_DATABASE_URL": url,
                "DIARY_TELEGRAM_TOKEN": TOKEN,
                "DIARY_TELEGRAM_API_URL": box.base_url,
                "DIARY_HTTP_PORT": str(port),
                "DIARY_SEND_RATE": "1000",
                "DIARY_PAID_BROADCAST": "true",
                "DIARY_LOG_LEVEL": "WARNING",
            }
            token = await _staff_token(env)
            serve = await asyncio.create_subprocess_exec(str(CLI), "serve", env=env)
            try:
                return await _measure(db, serve.pid, port, token)
            finally:
                serve.terminate()
                await serve.wait()
    finally:
        await drop_database(db)


async def _measure(db, pid: int, port: int, token: str) -> dict:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/readyz") as answer:
                    if answer.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        ready = _memory_mb(pid)
        started = time.perf_counter()
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(f"{base}/api/v1/regions/{REGION}/rounds", headers=headers) as answer:
            assert answer.status in (200, 201, 202), (answer.status, await answer.text())
        expanded_s = time.perf_counter() - started
        after_expansion = _memory_mb(pid)
        while (sent := await _sent(db)) < SENT:
            assert time.perf_counter() - started < 900, sent
            await asyncio.sleep(1.0)
        sent_s = time.perf_counter() - started
        peak = _memory_mb(pid)
    return {
        "cases": CASES,
        "messages_sent": sent,
        "ready_rss_mb": ready["VmRSS"],
        "after_expansion_rss_mb": after_expansion["VmRSS"],
        "peak_rss_mb": peak["VmHWM"],
        "expansion_s": expanded_s,
        "until_sent_s": sent_s,
        "met": peak["VmHWM"] <= AIM_MB,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(memory()), indent=2))
