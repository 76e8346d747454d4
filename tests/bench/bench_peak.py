"""Benchmark 8: the morning peak. A town of citizens answers the day's prompt at once.

A real ``symptom-diary serve`` (every role; paid-broadcast pacing at 1,000 messages a second,
so that Telegram's free limit does not decide the figures), on a fresh database of the same
PostgreSQL server that ``pgbench`` measures as the yardstick, talking to the loopback Bot API
server in a process of its own, which plays the citizens (tests/bench/citizens_process.py):

1. activation: every person sends ``/start <code>`` at once;
2. the burst: staff ask for the round; each person answers as soon as the prompt arrives,
   80% with one tap, 20% with the whole questionnaire (symptoms, a typed temperature);
3. the paced round: the next round, the answers spaced evenly at half the capacity measured
   in 2 (the latency a person sees on an ordinary busy morning).

Each once with long polling and once by webhook (the loopback server delivers up to 40
updates at once, never two of one chat at a time, as Telegram does). ``BENCH_PEAK_DELAY_MS``
puts a proxy in front of the database that delays every byte that long each way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

import aiohttp
import asyncpg

from backend.config.regions import load_regions
from backend.domain.activation import hash_code
from backend.storage import rounds as round_store
from backend.storage.database import Database
from backend.storage.regions import upsert_regions
from tests.bench.common import BENCH_DIR, drop_database, fresh_database
from tests.bench.sandbox_process import TOKEN

REGION = "zz-peak"
CITIZENS = 10_000  # BENCH_PEAK_CITIZENS overrides


@dataclass(frozen=True)
class Setup:
    citizens: int = CITIZENS
    delay_ms: float = 0.0  # each way, by the latency proxy; 0: no proxy
    pool: int = 10  # DIARY_DATABASE_POOL_SIZE


CLI = Path(sys.executable).with_name("symptom-diary")
SECRET = "peak-webhook-secret-for-the-benchmark-0123"
PGBENCH_SECONDS = 20
# Aims (issue 18): updates/s at least 0.2 x pgbench's TPS; p99 within 2 s at half capacity;
# at most 0.05 retries per update; nothing lost.
AIM_SHARE_OF_PGBENCH = 0.2
AIM_P99_S = 2.0
AIM_RETRIES = 0.05


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(db: Database) -> str:
    server: str = db.server  # type: ignore[attr-defined]
    base, _, query = server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{db.name}" + (f"?{query}" if query else "")  # type: ignore[attr-defined]


def _regions_file(directory: Path) -> Path:
    """One authority, its scheduled prompt half a day away: only staff rounds are sent."""
    later = (datetime.now(UTC) + timedelta(hours=12)).strftime("%H:%M")
    path = directory / "regions.toml"
    path.write_text(
        f"""
[[regions]]
id = "{REGION}"
name = "Gesundheitsamt Lasttest"
timezone = "UTC"
languages = ["de", "en"]
prompt_times = ["{later}"]
"""
    )
    return path


async def _register(db: Database, regions_file: Path, directory: Path, citizens: int) -> Path:
    """The citizens' cases with one activation code each, and the codes file for the town."""
    await db.transaction(upsert_regions, list(load_regions(regions_file).values()))
    # Telegram numbers accounts as they are created, over years: a town's people have ids
    # spread over the whole range, not consecutive ones (which would all meet in one page of
    # the chat index).
    chats = random.Random(citizens).sample(range(10**8, 8 * 10**9), citizens)
    codes = {chat: secrets.token_urlsafe(16) for chat in chats}
    today = datetime.now(UTC).date()
    async with db.pool.acquire() as conn:
        await conn.execute(
            """
            WITH new AS (
                INSERT INTO cases (region, kind, quarantine_start, quarantine_end, language)
                SELECT $1, 'contact', $2::DATE - 2, $2::DATE + 12, 'de'
                FROM generate_series(1, $3)
                RETURNING id
            ), numbered AS (SELECT id, row_number() OVER () AS n FROM new)
            INSERT INTO activation_codes (region, code_hash, case_id, expires_at)
            SELECT $1, c.hash, numbered.id, now() + INTERVAL '3 days'
            FROM numbered JOIN unnest($4::TEXT[]) WITH ORDINALITY AS c(hash, n) USING (n)
            """,
            REGION,
            today,
            citizens,
            [hash_code(code) for code in codes.values()],
        )
        await conn.execute("VACUUM ANALYZE")
    path = directory / "codes.txt"
    path.write_text("".join(f"{chat} {code}\n" for chat, code in codes.items()))
    return path


class Child:
    """A helper process speaking in lines (the town, the latency proxy)."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    @classmethod
    async def start(cls, *args: str) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def expect(self, word: str, timeout: float = 1800) -> str:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"the helper process ended before {word}")
            text = line.decode().strip()
            if text.startswith(word + " "):
                return text[len(word) + 1 :]

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def pgbench(server_url: str, seconds: int = PGBENCH_SECONDS, clients: int = 8) -> float:
    """pgbench's TPC-B-like transactions per second on the same server, 8 clients."""
    binary = _pg_binary("pgbench")
    parts = urlsplit(server_url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    env = {**os.environ, "PGHOST": unquote(host), "PGUSER": parts.username or "postgres"}
    if parts.port:
        env["PGPORT"] = str(parts.port)
    database = f"pgbench_{secrets.token_hex(4)}"
    admin = await _run(binary.with_name("createdb"), database, env=env)
    assert admin.returncode == 0
    try:
        init = await _run(binary, "-i", "-q", "-s", "10", database, env=env)
        assert init.returncode == 0, init.stdout
        run = await _run(
            binary, "-c", str(clients), "-j", "2", "-T", str(seconds), "-n",
            database, env=env,
        )  # fmt: skip
        match = re.search(rb"tps = ([0-9.]+)", run.stdout)
        assert match, run.stdout
        return float(match.group(1))
    finally:
        await _run(binary.with_name("dropdb"), database, env=env)


class _Done:
    def __init__(self, returncode: int, stdout: bytes):
        self.returncode, self.stdout = returncode, stdout


async def _run(*args: object, env: dict[str, str]) -> _Done:
    process = await asyncio.create_subprocess_exec(
        *map(str, args), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    return _Done(process.returncode or 0, out)


def _pg_binary(name: str) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin" / name


@contextlib.asynccontextmanager
async def _database_behind_proxy(url: str, delay_ms: float) -> AsyncIterator[str]:
    """``url`` itself, or one through the latency proxy when ``delay_ms`` is set."""
    if not delay_ms:
        yield url
        return
    parts = urlsplit(url)
    host = unquote(parse_qs(parts.query).get("host", [""])[0])
    target = f"{host}/.s.PGSQL.5432" if host.startswith("/") else f"{parts.hostname}:{parts.port}"
    proxy = await Child.start("tests.bench.latency_proxy", "--target", target,
                              "--delay-ms", str(delay_ms))  # fmt: skip
    try:
        port = await proxy.expect("READY", timeout=30)
        yield f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{port}{parts.path}"
    finally:
        await proxy.stop()


WATCHED = (
    "diary_transaction_retries_total",
    "diary_messages_sent_total",
    "diary_updates_processed_total",
    "diary_updates_parked_total",
)


async def _metrics(http: aiohttp.ClientSession, base: str) -> dict[str, float]:
    async with http.get(f"{base}/metrics") as answer:
        text = await answer.text()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(WATCHED):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def _delta(after: dict[str, float], before: dict[str, float], prefix: str) -> float:
    return sum(v - before.get(k, 0.0) for k, v in after.items() if k.startswith(prefix))


async def _round(db: Database) -> None:
    """A round of a slot of its own, as the schedule makes one (one started by staff asks
    only who has not answered the current slot, and everyone answered the round before):
    written to the database, where the service's sender finds it within its idle poll."""
    today = datetime.now(UTC).date()  # the region's zone is UTC

    async def create(conn: asyncpg.Connection) -> None:
        slot = f"bench-{uuid4().hex[:8]}"
        round_id = await round_store.insert_round(
            conn, REGION, today, slot, "schedule", datetime.now(UTC)
        )
        assert round_id is not None
        await round_store.expand_round(conn, REGION, round_id, today, timedelta(milliseconds=1))

    await db.transaction(create)


async def _entries(db: Database) -> dict:
    """Entries of the latest round: how many people answered it, and how many times."""
    rows = await db.fetch(
        """
        SELECT count(DISTINCT e.case_id) AS people, count(*) AS entries,
               min(e.recorded_at) AS first, max(e.recorded_at) AS last
        FROM diary_entries e JOIN prompts p ON p.region = e.region AND p.id = e.prompt_id
        WHERE p.round_id = (SELECT id FROM rounds WHERE region = $1 ORDER BY created_at DESC
                            LIMIT 1)
        """,
        REGION,
    )
    return dict(rows[0])


class RateSampler:
    """Samples the service's counters while a phase runs: the highest rate of processed
    updates (and of messages sent) over any ``window`` seconds, i.e. the capacity while work
    was waiting, which the average over the whole phase hides (its tail is people stepping
    through the questionnaire one message at a time)."""

    def __init__(self, http: aiohttp.ClientSession, base: str, every: float = 0.5):
        self.http, self.base, self.every = http, base, every
        self.samples: list[tuple[float, float, float]] = []
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            found = await _metrics(self.http, self.base)
            self.samples.append(
                (
                    time.monotonic(),
                    _delta(found, {}, "diary_updates_processed_total"),
                    _delta(found, {}, "diary_messages_sent_total"),
                )
            )
            await asyncio.sleep(self.every)  # a sampling interval, not a synchronisation

    def __enter__(self) -> RateSampler:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def peak(self, column: int, window: float = 5.0) -> float:
        best = 0.0
        for i, (start, *_) in enumerate(self.samples):
            for end in self.samples[i + 1 :]:
                if end[0] - start >= window:
                    best = max(best, (end[column] - self.samples[i][column]) / (end[0] - start))
                    break
        return best


async def _phase(
    db: Database,
    http: aiohttp.ClientSession,
    base: str,
    town: Child,
    rate: float,
    citizens: int,
    flood: bool = False,
) -> dict:
    import json

    before = await _metrics(http, base)
    with RateSampler(http, base) as sampler:
        await _round(db)
        town.send("FLOOD" if flood else f"ANSWER {rate}")
        answered = json.loads(await town.expect("ANSWERED"))
    after = await _metrics(http, base)
    stored = await _entries(db)
    updates = _delta(after, before, "diary_updates_processed_total")
    retries = _delta(after, before, 'diary_transaction_retries_total{work="update"}')
    busy = answered["busy_s"] or float("nan")
    offered = answered["presses"] + answered["typed"]
    return {
        "offered_rate": rate,
        "updates_sent": offered,
        "updates_processed": updates,  # redeliveries and retries of one update count again
        "updates_per_s": offered / busy,
        "peak_updates_per_s": sampler.peak(1),
        "peak_messages_sent_per_s": sampler.peak(2),
        "entries": stored["entries"],
        "entries_per_s": stored["entries"] / busy,
        "answers_lost": citizens - stored["people"],
        "stored_twice": stored["entries"] - stored["people"],
        "retries_per_update": retries / offered if offered else None,
        "parked": _delta(after, before, "diary_updates_parked_total"),
        "not_committed": _delta(after, before, 'diary_updates_processed_total{outcome="retry"}'),
        "ack_p50_s": answered["ack"]["p50_s"],
        "ack_p99_s": answered["ack"]["p99_s"],
        "ack_max_s": answered["ack"]["max_s"],
        "town": answered,
    }


async def _serve(mode: str, url: str, api_url: str, regions: Path, log: Path, pool: int) -> tuple:
    port = _free_port()
    env = {
        **os.environ,
        "DIARY_DATABASE_URL": url,
        "DIARY_TELEGRAM_TOKEN": TOKEN,
        "DIARY_TELEGRAM_API_URL": api_url,
        "DIARY_HTTP_PORT": str(port),
        "DIARY_SEND_RATE": "1000",
        "DIARY_PAID_BROADCAST": "true",
        "DIARY_LOG_LEVEL": "WARNING",
        "DIARY_REGIONS_FILE": str(regions),
        "DIARY_DATABASE_POOL_SIZE": str(pool),
    }
    if mode == "webhook":
        env["DIARY_WEBHOOK_URL"] = f"http://127.0.0.1:{port}/telegram/webhook"
        env["DIARY_WEBHOOK_SECRET"] = SECRET
    created = await _run(CLI, "staff", "create", "--name", "Bench", "--role", "admin", env=env)
    assert created.returncode == 0, created.stdout
    token = created.stdout.decode().strip().splitlines()[-1]
    with log.open("wb") as sink:
        serve = await asyncio.create_subprocess_exec(
            str(CLI), "serve", env=env, stdout=sink, stderr=sink
        )
    return serve, f"http://127.0.0.1:{port}", token


async def run_mode(mode: str, setup: Setup) -> dict:
    import json

    db = await fresh_database()
    directory = Path(tempfile.mkdtemp(prefix="peak-", dir=BENCH_DIR))
    log = directory / f"serve-{mode}.log"
    try:
        regions = _regions_file(directory)
        codes = await _register(db, regions, directory, setup.citizens)
        town = await Child.start("tests.bench.citizens_process", "--codes", str(codes))
        try:
            api_url = await town.expect("READY", timeout=120)
            async with _database_behind_proxy(_database_url(db), setup.delay_ms) as url:
                serve, base, token = await _serve(mode, url, api_url, regions, log, setup.pool)
                try:
                    async with aiohttp.ClientSession(
                        timeout=aiohttp.ClientTimeout(total=600)
                    ) as http:
                        await _ready(http, base)
                        before = await _metrics(http, base)
                        town.send("ACTIVATE")
                        activated = json.loads(await town.expect("ACTIVATED"))
                        after = await _metrics(http, base)
                        n = setup.citizens
                        burst = await _phase(db, http, base, town, 0, n)
                        flood = await _phase(db, http, base, town, 0, n, flood=True)
                        capacity = flood["peak_updates_per_s"]
                        paced = await _phase(db, http, base, town, capacity / 2, n)
                finally:
                    serve.terminate()
                    await serve.wait()
        finally:
            town.send("STOP")
            await town.stop()
        errors = log.read_text(errors="replace")
        return {
            "mode": mode,
            "delay_ms": setup.delay_ms,
            "pool": setup.pool,
            "citizens": setup.citizens,
            "activation": {
                "per_s": activated["welcomed"] / activated["seconds"],
                "lost": setup.citizens - await _activated(db),
                "p50_s": activated["latency"]["p50_s"],
                "p99_s": activated["latency"]["p99_s"],
                "retries_per_update": _delta(
                    after, before, 'diary_transaction_retries_total{work="update"}'
                )
                / max(1.0, _delta(after, before, "diary_updates_processed_total")),
            },
            "burst": burst,
            "flood": flood,
            "capacity_updates_per_s": capacity,
            "paced": paced,
            "serialization_errors_logged": errors.count("SerializationError"),
            "handler_errors_logged": errors.count("error while handling update"),
        }
    finally:
        await drop_database(db)


async def _activated(db: Database) -> int:
    rows = await db.fetch(
        "SELECT count(*) AS n FROM cases WHERE region = $1 AND status = 'active'", REGION
    )
    return rows[0]["n"]


async def _ready(http: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{base}/readyz") as answer:
                if answer.status == 200:
                    return
        await asyncio.sleep(0.2)  # another process starting: nothing to wait on but its answer
    raise RuntimeError("serve did not become ready")


async def morning_peak(setup: Setup | None = None) -> dict:
    """pgbench, then the town with long polling, then by webhook."""
    setup = setup or Setup(citizens=int(os.environ.get("BENCH_PEAK_CITIZENS", CITIZENS)))
    db = await fresh_database()
    server = db.server  # type: ignore[attr-defined]
    await drop_database(db)
    tps = await pgbench(server)
    result: dict = {"pgbench_tps": tps, **asdict(setup)}
    for mode in ("polling", "webhook"):
        result[mode] = await run_mode(mode, setup)
    result["met"] = all(_met(result[mode], tps) for mode in ("polling", "webhook"))
    return result


def _met(run: dict, tps: float) -> bool:
    phases = [run["burst"], run["flood"], run["paced"]]
    return (
        run["activation"]["lost"] == 0
        and all(p["answers_lost"] == 0 and p["stored_twice"] == 0 for p in phases)
        and all(p["not_committed"] == 0 for p in phases)  # no transaction exhausted its retries
        and all((p["retries_per_update"] or 0) <= AIM_RETRIES for p in phases)
        and run["capacity_updates_per_s"] >= AIM_SHARE_OF_PGBENCH * tps
        and run["paced"]["ack_p99_s"] is not None
        and run["paced"]["ack_p99_s"] <= AIM_P99_S
    )


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(morning_peak()), indent=2, default=str))
