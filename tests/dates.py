"""``make test-dates``: the whole suite with its process tree at other dates, through libfaketime.

Every process the suite starts (pytest, the embedded PostgreSQL, ``serve`` and CLI
subprocesses, openssl, the TLS test's Debian PostgreSQL) inherits ``LD_PRELOAD`` and one
``FAKETIME`` offset in seconds, so they all read the same shifted clock: the database's
``now()`` and the wall clock move together, as on a real machine on that day. (An offset, not
faketime's "@start" form: that one restarts the clock in every new process, so a child
started minutes later would live minutes in the past of its parent.)

What faketime shifts is the wall clock. The service clock of most tests is a ``FixedClock``
standing at ``tests.conftest.NOW`` and is not shifted, by design: those tests are
deterministic. ``tests/test_calendar.py`` moves that injected clock to the same instants.

    python -m tests.dates                 every instant, two at a time
    python -m tests.dates dst leap        some of them (names below)
    python -m tests.dates -- -k calendar  pytest arguments after --
"""

from __future__ import annotations

import argparse
import calendar
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from tests import debian

BERLIN = ZoneInfo("Europe/Berlin")


def last_sunday_of_march(year: int) -> date:
    day = date(year, 3, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def dst_night(now: datetime) -> datetime:
    """01:30 in Berlin in the night the clocks go forward (the next one after ``now``)."""
    for year in (now.year, now.year + 1):
        local = datetime.combine(last_sunday_of_march(year), clock_time(1, 30), BERLIN)
        if local > now:
            return local.astimezone(UTC)
    raise AssertionError("unreachable")


def leap_day(now: datetime) -> datetime:
    """Noon UTC on the next 29 February (2028 from 2026 on)."""
    year = now.year
    while not (calendar.isleap(year) and datetime(year, 2, 29, 12, tzinfo=UTC) > now):
        year += 1
    return datetime(year, 2, 29, 12, tzinfo=UTC)


def new_year(now: datetime) -> datetime:
    """31 December 23:59:30 UTC, the next one: the run crosses into the new year."""
    end = datetime(now.year, 12, 31, 23, 59, 30, tzinfo=UTC)
    return end if end > now else end.replace(year=now.year + 1)


def later(now: datetime) -> datetime:
    return now + timedelta(days=400)


# name -> the instant, computed from "now" (the real clock here, the fixed NOW in tests).
INSTANTS: dict[str, Callable[[datetime], datetime]] = {
    "later": later,
    "dst": dst_night,
    "leap": leap_day,
    "new-year": new_year,
}


def instants(now: datetime) -> dict[str, datetime]:
    return {name: at(now) for name, at in INSTANTS.items()}


def clock_environment() -> dict[str, str]:
    """The variables that carry a faked clock into a child started with a clean environment
    (none outside ``make test-dates``): without them it would run on the real clock, beside a
    database on the faked one."""
    return {
        name: value
        for name, value in os.environ.items()
        if name == "LD_PRELOAD" or name.startswith("FAKETIME")
    }


def share_faked_clock_state() -> None:
    """Let processes of other accounts (the embedded PostgreSQL's, the TLS test's server) use
    the shared state the ``faketime`` wrapper created for this run; called as pytest starts.

    libfaketime 0.9.10 (Debian's) names a POSIX semaphore and a shared-memory object in
    ``FAKETIME_SHARED``; the wrapper creates both 0600 for itself (root). A process of another
    account cannot open them and creates a pair of its own named after its pid, which fails
    when a stale pair of that pid lies in /dev/shm from an earlier process: libfaketime then
    exits ("sem_open failed and recreation attempts failed", the TLS test's pg_ctl on CI).
    Opened to all, the run's one pair serves every process, and no pid-named pair is made.
    (/dev/shm is root's, so fs.protected_regular lets others open root's files there.)"""
    shared = os.environ.get("FAKETIME_SHARED", "").split()
    if len(shared) != 2 or os.geteuid() != 0:
        return  # not under faketime, or every process runs as this account
    semaphore, memory = (name.lstrip("/") for name in shared)
    for path in (Path("/dev/shm") / f"sem.{semaphore}", Path("/dev/shm") / memory):
        try:
            path.chmod(0o666)
        except FileNotFoundError:
            return  # a stale variable, no wrapper behind it: each process makes its own pair


def remove_stale_faketime_pairs(shm: Path = Path("/dev/shm")) -> list[str]:
    """Unlink the pairs libfaketime left in /dev/shm for processes that are gone (killed ones
    do not clean up): the ``faketime`` wrapper refuses to start ("sem_open: File exists") when
    one is named after its own pid."""
    removed = []
    for path in shm.glob("*faketime_s[eh]m_*"):
        pid = path.name.rpartition("_")[2]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        try:
            path.unlink()
        except (FileNotFoundError, PermissionError):
            continue  # gone meanwhile, or another account's when we are not root
        removed.append(path.name)
    return removed


def ensure_faketime() -> None:
    """Install Debian's faketime (and what the suite needs) when missing, as root, before
    any clock is shifted; otherwise stop with a sentence."""
    try:
        debian.ensure_packages(debian.NEEDS["dates"] | debian.NEEDS["test"], "test-dates")
    except RuntimeError as error:
        raise SystemExit(str(error)) from None


@dataclass
class Run:
    name: str
    at: datetime
    returncode: int = -1
    seconds: float = 0.0
    summary: str = ""
    failures: list[str] = field(default_factory=list)


def run_at(run: Run, pytest_args: list[str], workdir: Path) -> Run:
    offset = round((run.at - datetime.now(UTC)).total_seconds())
    # Read by tests/test_clocks.py, which checks that the shift really took effect.
    env = os.environ | {"TEST_FAKED_START": run.at.isoformat()}
    log = workdir / f"{run.name}.log"
    command = [
        "faketime",
        "-f",
        f"{offset:+d}",  # seconds; faketime sets LD_PRELOAD and FAKETIME for the whole tree
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--basetemp={workdir / run.name}",
        *pytest_args,
    ]
    started = time.monotonic()
    with log.open("w") as output:
        finished = subprocess.run(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    run.returncode = finished.returncode
    run.seconds = time.monotonic() - started
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    run.summary = lines[-1].strip("= ") if lines else "no output"
    # pytest's short summary: printed below, so that CI's output names what failed.
    run.failures = [line for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"some of: {', '.join(INSTANTS)}")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    parser.add_argument("--workdir", type=Path, default=Path(".test-dates"))
    ours, pytest_args = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    )
    args = parser.parse_args(ours)
    unknown = sorted(set(args.names) - set(INSTANTS))
    if unknown:
        parser.error(f"unknown instant {', '.join(unknown)}; known: {', '.join(INSTANTS)}")
    ensure_faketime()
    remove_stale_faketime_pairs()
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    now = datetime.now(UTC)
    runs = [Run(name, INSTANTS[name](now)) for name in (args.names or INSTANTS)]
    for run in runs:
        print(f"{run.name:>9}: the suite at {run.at:%Y-%m-%d %H:%M:%S} UTC", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        done = list(pool.map(lambda r: run_at(r, pytest_args, args.workdir), runs))
    print()
    for run in done:
        state = "green" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
        print(
            f"{run.name:>9}  {run.at:%Y-%m-%d %H:%M:%S} UTC  {state:<18} {run.seconds:6.0f} s"
            f"  {run.summary}"
        )
    failed = [run for run in done if run.returncode != 0]
    for run in failed:
        print(f"\n{run.name} ({run.at:%Y-%m-%d %H:%M:%S} UTC), log: {args.workdir / run.name}.log")
        for line in run.failures:
            print(f"  {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
