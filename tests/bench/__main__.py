"""`make bench`: every benchmark in turn, a summary at the end, results in var/bench/."""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import time

from tests.bench import bench_alerts, bench_round, bench_sender
from tests.bench.common import BENCH_DIR

BENCHMARKS = {
    "1. round expansion (1,000,000 cases)": bench_round.main,
    "2. sender capacity, limits off": bench_sender.capacity,
    "3. pacing at 30/s with 429s enforced": bench_sender.pacing,
    "4. alert latency during a 100,000 broadcast": bench_sender.alert_latency,
    "5. alert latency, entry commit to group, sender idle": bench_alerts.alert_latency_idle,
    "6. the same, entry stored by another instance": lambda: bench_alerts.alert_latency_idle(
        wake=False
    ),
}

SUMMARY = {
    "1. round expansion (1,000,000 cases)": lambda r: (
        f"{r['expansion_s']:.1f} s vs plain INSERT ... SELECT {r['plain_outbox_s']:.1f} s: "
        f"ratio {r['ratio_vs_plain_outbox']:.2f} (aim <= 2); "
        f"vs plain inserts of prompts and outbox {r['ratio_vs_plain_both']:.2f}"
    ),
    "2. sender capacity, limits off": lambda r: (
        f"{r['per_second']:.0f} messages/s ({r['messages']} in {r['seconds']:.1f} s; aim >= 1000)"
    ),
    "3. pacing at 30/s with 429s enforced": lambda r: (
        f"{r['per_second']:.2f}/s ({r['deviation']:+.1%} of 30/s; aim within 3%), "
        f"{r['429s']} x 429 (aim 0)"
    ),
    "4. alert latency during a 100,000 broadcast": lambda r: (
        f"p50 {r['p50_s']:.2f} s, p99 {r['p99_s']:.2f} s, max {r['max_s']:.2f} s (aim <= 2 s); "
        f"{r['broadcast_sent_meanwhile']} broadcast messages sent meanwhile, {r['429s']} x 429"
    ),
    "5. alert latency, entry commit to group, sender idle": lambda r: _alerts(r),
    "6. the same, entry stored by another instance": lambda r: _alerts(r),
}


def _alerts(r: dict) -> str:
    return (
        f"{r['alerts']} alerts: p50 {r['p50_s'] * 1000:.0f} ms, p99 {r['p99_s'] * 1000:.0f} ms, "
        f"max {r['max_s'] * 1000:.0f} ms; {r['429s']} x 429"
    )


async def main(selected: list[str]) -> int:
    results = {}
    for name, bench in BENCHMARKS.items():
        if selected and not any(s in name for s in selected):
            continue
        print(f"running {name} ...", flush=True)
        started = time.perf_counter()
        results[name] = await bench()
        results[name]["wall_s"] = time.perf_counter() - started
    print()
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}, {len(__import__('os').sched_getaffinity(0))} cores"
    )
    for name, result in results.items():
        verdict = "met" if result["met"] else "NOT MET"
        print(f"{name}: {SUMMARY[name](result)} -> {verdict}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    return 0 if all(r["met"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
