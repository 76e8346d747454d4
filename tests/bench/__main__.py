"""`make bench`: every benchmark in turn, a summary at the end, results in var/bench/."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import (
    bench_alerts,
    bench_memory,
    bench_pacing,
    bench_peak,
    bench_round,
    bench_sender,
)
from tests.bench.common import BENCH_DIR

SEED = 2026  # the transaction helper's retry jitter is the only randomness on our side

BENCHMARKS = {
    "1. round expansion (1,000,000 cases)": bench_round.main,
    "2. sender capacity, limits off": bench_sender.capacity,
    "3. pacing at 30/s beside PTB's AIORateLimiter": bench_pacing.pacing,
    "4. alert latency during a 100,000 broadcast": bench_sender.alert_latency,
    "5. alert latency, entry commit to group, sender idle": bench_alerts.alert_latency_idle,
    "6. the same, entry stored by another instance": lambda: bench_alerts.alert_latency_idle(
        wake=False
    ),
    "7. serve's peak memory, 1,000,000-case round": bench_memory.memory,
    "8. the morning peak, 10,000 citizens": bench_peak.morning_peak,
    # Fewer citizens: every round trip takes 2 ms longer, and the rates are what is measured.
    "9. the morning peak, the database 2 ms away": lambda: bench_peak.morning_peak(
        bench_peak.Setup(citizens=4000, delay_ms=1.0, pool=30)
    ),
}

SUMMARY = {
    "1. round expansion (1,000,000 cases)": lambda r: (
        f"{r['expansion_s']:.1f} s vs the same outbox rows by plain INSERT ... SELECT "
        f"{r['same_rows_s']:.1f} s: ratio {r['ratio_vs_same_rows']:.2f} (aim <= 1.2); "
        f"vs the same rows in key order {r['ratio_vs_same_rows_key_order']:.2f}, "
        f"vs the earlier plain outbox {r['ratio_vs_plain_outbox']:.2f}, "
        f"vs plain prompts and outbox {r['ratio_vs_plain_both']:.2f}"
    ),
    "2. sender capacity, limits off": lambda r: (
        f"{r['per_second']:.0f} messages/s ({r['messages']} in {r['seconds']:.1f} s; aim >= 3000); "
        f"sender CPU {r['sender_cpu_us']:.0f} us/message, Bot API stub "
        f"{r['stub_cpu_us']:.0f} us/message"
    ),
    "3. pacing at 30/s beside PTB's AIORateLimiter": lambda r: (
        f"ours {r['per_second']:.2f}/s ({r['deviation']:+.2%}; at the server "
        f"{r['at_server_deviation']:+.2%}; aim within 1%), {r['429s']} x 429 (aim 0); "
        f"PTB's {r['ptb']['per_second']:.2f}/s ({r['ptb']['deviation']:+.2%}; at the server "
        f"{r['ptb']['at_server_deviation']:+.2%}), {r['ptb']['429s']} x 429"
    ),
    "4. alert latency during a 100,000 broadcast": lambda r: (
        f"p50 {r['p50_s']:.2f} s, p99 {r['p99_s']:.2f} s, max {r['max_s']:.2f} s (aim p99 <= 1 s); "
        f"{r['broadcast_sent_meanwhile']} broadcast messages sent meanwhile, {r['429s']} x 429"
    ),
    "5. alert latency, entry commit to group, sender idle": lambda r: _alerts(r),
    "6. the same, entry stored by another instance": lambda r: _alerts(r),
    "8. the morning peak, 10,000 citizens": lambda r: _peak(r),
    "9. the morning peak, the database 2 ms away": lambda r: _peak(r),
    "7. serve's peak memory, 1,000,000-case round": lambda r: (
        f"peak {r['peak_rss_mb']:.0f} MB (aim <= 150), {r['ready_rss_mb']:.0f} MB when ready; "
        f"{r['messages_sent']} sent {r['until_sent_s']:.0f} s after the round was asked for "
        f"(expanded in {r['expansion_s']:.0f} s)"
    ),
}


def machine() -> str:
    """The facts a figure depends on, printed with the figures."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {cpu}, {len(os.sched_getaffinity(0))} cores, "
        f"{memory_kb / 1024**2:.0f} GB; {platform.python_implementation()} "
        f"{platform.python_version()}; load average {load}"
    )


def _alerts(r: dict) -> str:
    return (
        f"{r['alerts']} alerts: p50 {r['p50_s'] * 1000:.0f} ms, p99 {r['p99_s'] * 1000:.0f} ms, "
        f"max {r['max_s'] * 1000:.0f} ms; {r['429s']} x 429"
    )


def _peak(r: dict) -> str:
    """One line per way of receiving updates; the aims are in tests/bench/bench_peak.py."""
    lines = [f"{r['citizens']} citizens, pool {r['pool']}; pgbench {r['pgbench_tps']:.0f} TPS"]
    for mode in ("polling", "webhook"):
        m = r[mode]
        a, burst, flood, paced = m["activation"], m["burst"], m["flood"], m["paced"]
        lost = sum(p["answers_lost"] for p in (burst, flood, paced))
        retries = max(p["retries_per_update"] or 0 for p in (burst, flood, paced))
        lines.append(
            f"  {mode}: capacity {m['capacity_updates_per_s']:.0f} updates/s "
            f"({m['capacity_updates_per_s'] / r['pgbench_tps']:.2f} x pgbench), "
            f"burst {burst['updates_per_s']:.0f} updates/s, {burst['entries_per_s']:.0f} "
            f"entries/s, ack p50 {burst['ack_p50_s']:.2f} s p99 {burst['ack_p99_s']:.2f} s; "
            f"at half capacity ({paced['offered_rate']:.0f}/s) ack p50 "
            f"{paced['ack_p50_s']:.2f} s p99 {paced['ack_p99_s']:.2f} s; retries/update "
            f"<= {retries:.3f}; answers lost {lost}; activation {a['per_s']:.0f}/s, "
            f"{a['retries_per_update']:.2f} retries/update, lost {a['lost']}"
        )
    return "\n".join(lines)


async def main(selected: list[str]) -> int:
    random.seed(SEED)
    before = machine()
    print(f"machine: {before}", flush=True)
    results = {}
    for name, bench in BENCHMARKS.items():
        if selected and not any(s in name for s in selected):
            continue
        print(f"running {name} ...", flush=True)
        started = time.perf_counter()
        results[name] = await bench()
        results[name]["wall_s"] = time.perf_counter() - started
    print()
    print(f"machine at the start: {before}")
    print(f"machine at the end:   {machine()}")
    for name, result in results.items():
        verdict = "met" if result["met"] else "NOT MET"
        print(f"{name}: {SUMMARY[name](result)} -> {verdict}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    return 0 if all(r["met"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
