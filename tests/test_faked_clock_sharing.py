"""``make test-dates`` runs processes of other accounts (the embedded PostgreSQL's, the TLS
test's server) on the faked clock: they must use the run's one shared libfaketime state, not
make pid-named pairs of their own, which fail on a stale pair of the same pid (CI, 2026-12-06:
"sem_open failed and recreation attempts failed" from the TLS test's pg_ctl)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import debian
from tests.dates import remove_stale_faketime_pairs
from tests.test_database_tls import server_account

ROOT = Path(__file__).resolve().parent.parent
DAY = 86_400

# Runs under faketime as pytest does under make test-dates: shares the state as conftest
# does, then asks a shell of the other account which pair it uses and what time it is. A
# stale pair named after the shell's pid lies in /dev/shm, as on CI.
PROBE = textwrap.dedent(
    """
    import os, pwd, subprocess, sys
    from tests.dates import clock_environment, share_faked_clock_state
    share_faked_clock_state()
    account = pwd.getpwnam(sys.argv[1])

    def leave_a_stale_pair():  # in the child, as the account, before the shell starts
        for name in (f"sem.faketime_sem_{os.getpid()}", f"faketime_shm_{os.getpid()}"):
            os.close(os.open(f"/dev/shm/{name}", os.O_CREAT | os.O_WRONLY, 0o600))

    shell = subprocess.run(
        ["/bin/sh", "-c", 'echo "$FAKETIME_SHARED"; date +%s; rm -f /dev/shm/*_$$'],
        env={"PATH": "/usr/bin:/bin"} | clock_environment(),
        user=account.pw_uid, group=account.pw_gid, extra_groups=[],
        preexec_fn=leave_a_stale_pair, capture_output=True, text=True, cwd="/",
    )
    print(os.environ["FAKETIME_SHARED"])
    print(shell.returncode)
    print(shell.stdout + shell.stderr, end="")
    """
)


def test_a_process_of_another_account_uses_the_runs_faked_clock_state() -> None:
    if os.geteuid() != 0:
        pytest.skip("only root starts processes of other accounts")
    debian.ensure_packages(debian.NEEDS["dates"], "the faked clock's sharing test")
    account, reason = server_account()
    assert account is not None, reason
    # A wrapper of its own, outside any faked clock this suite may run on (make test-dates):
    # nested in one, the wrapper trips over the pair libfaketime made for its own pid.
    real = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and "FAKETIME" not in k}

    before = int(subprocess.run(["date", "+%s"], env=real, capture_output=True).stdout)
    probe = subprocess.run(
        ["faketime", "-f", f"+{DAY}", sys.executable, "-c", PROBE, account.pw_name],
        cwd=ROOT,
        env=real,
        capture_output=True,
        text=True,
        timeout=60,
    )
    after = int(subprocess.run(["date", "+%s"], env=real, capture_output=True).stdout)
    assert probe.returncode == 0, probe.stderr
    runs, returncode, *shell = probe.stdout.splitlines()
    assert returncode == "0", shell
    assert shell[0] == runs  # the run's pair, not one named after the shell's pid
    assert before + DAY <= int(shell[1]) <= after + DAY  # and on the faked clock


def test_pairs_of_processes_that_are_gone_are_removed_before_a_run(tmp_path: Path) -> None:
    gone = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has this pid
    alive = os.getpid()
    for pid in (gone, alive):
        (tmp_path / f"sem.faketime_sem_{pid}").touch()
        (tmp_path / f"faketime_shm_{pid}").touch()
    (tmp_path / "PostgreSQL.1234").touch()  # not libfaketime's

    removed = remove_stale_faketime_pairs(tmp_path)

    assert sorted(removed) == [f"faketime_shm_{gone}", f"sem.faketime_sem_{gone}"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "PostgreSQL.1234",
        f"faketime_shm_{alive}",
        f"sem.faketime_sem_{alive}",
    ]
