"""A three-member Patroni cluster with one etcd on loopback, from ``deploy/ha/patroni.yml``.

Started by ``tests/test_failover.py`` (and usable by hand: ``python -m tests.ha_cluster``).
Debian's ``patroni``, ``etcd-server``, ``etcd-client`` and ``postgresql-15`` are installed here
when missing (as root, apt-get); anything else is a failure that says what is missing, never
a skip. PostgreSQL refuses to run as root, so the members run as the ``postgres`` account.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests import debian
from tests.dates import clock_environment

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "deploy" / "ha" / "patroni.yml"
BINDIR = Path("/usr/lib/postgresql/15/bin")
PACKAGES = debian.NEEDS["failover"]
PASSWORD = "diary-ha-test"
ACCOUNT = "postgres"


def ensure_packages() -> None:
    debian.ensure_packages(PACKAGES, "the failover test")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Member:
    name: str
    pg_port: int
    api_port: int
    data: Path
    log: Path
    process: subprocess.Popen | None = None

    def state(self) -> dict:
        """Patroni's own view of this member (GET /patroni), {} when it does not answer."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.api_port}/patroni", timeout=2
            ) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return {}


@dataclass
class Cluster:
    base: Path
    etcd_port: int
    members: list[Member] = field(default_factory=list)
    etcd: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The multi-host URL the service is given: asyncpg tries the hosts in turn and keeps
        the one that accepts writes."""
        hosts = ",".join(f"127.0.0.1:{m.pg_port}" for m in self.members)
        return f"postgresql://postgres:{PASSWORD}@{hosts}/diary?target_session_attrs=read-write"

    def leader(self) -> Member | None:
        for member in self.members:
            if member.process and member.process.poll() is None:
                if member.state().get("role") in ("master", "primary"):
                    return member
        return None

    def cluster_view(self) -> list[dict]:
        for member in self.members:
            try:
                url = f"http://127.0.0.1:{member.api_port}/cluster"
                with urllib.request.urlopen(url, timeout=2) as response:
                    return json.loads(response.read()).get("members", [])
            except (OSError, ValueError):
                continue
        return []

    def wait_healthy(self, replicas: int, timeout: float = 120) -> Member:
        """A leader and ``replicas`` streaming replicas, one of them synchronous."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            view = self.cluster_view()
            leaders = [m for m in view if m.get("role") in ("leader", "master", "primary")]
            streaming = [m for m in view if m.get("state") in ("streaming", "running")]
            sync = [m for m in view if m.get("role") == "sync_standby"]
            if leaders and len(streaming) >= replicas + 1 and (replicas == 0 or sync):
                leader = self.leader()
                if leader is not None:
                    return leader
            time.sleep(0.5)
        raise AssertionError(f"cluster not healthy within {timeout} s: {self.cluster_view()}")

    def start_member(self, member: Member) -> None:
        account = pwd.getpwnam(ACCOUNT) if os.geteuid() == 0 else None
        env = {
            "PATH": "/usr/bin:/bin",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.base),
            "PATRONI_NAME": member.name,
            "PATRONI_RESTAPI_LISTEN": f"127.0.0.1:{member.api_port}",
            "PATRONI_RESTAPI_CONNECT_ADDRESS": f"127.0.0.1:{member.api_port}",
            "PATRONI_POSTGRESQL_LISTEN": f"127.0.0.1:{member.pg_port}",
            "PATRONI_POSTGRESQL_CONNECT_ADDRESS": f"127.0.0.1:{member.pg_port}",
            "PATRONI_POSTGRESQL_DATA_DIR": str(member.data),
            "PATRONI_POSTGRESQL_PGPASS": str(self.base / f"pgpass-{member.name}"),
            "PATRONI_ETCD3_HOSTS": f"127.0.0.1:{self.etcd_port}",
            "PATRONI_SUPERUSER_PASSWORD": PASSWORD,
            "PATRONI_REPLICATION_PASSWORD": PASSWORD,
            "PATRONI_REWIND_PASSWORD": PASSWORD,
        } | clock_environment()
        ids = (
            {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
        )
        with member.log.open("ab") as output:
            member.process = subprocess.Popen(
                ["/usr/bin/patroni", str(CONFIG)],
                env=env,
                cwd=self.base,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes its PostgreSQL too
                **ids,
            )

    def kill(self, member: Member) -> None:
        """The node dies: SIGKILL to Patroni and its PostgreSQL at once, no shutdown."""
        assert member.process is not None
        # Patroni starts PostgreSQL in a process group of its own: kill both groups, the
        # postmaster's with every backend in it, so no socket of the node stays open.
        postmaster = _postmaster_pid(member.data)
        os.killpg(member.process.pid, signal.SIGKILL)
        if postmaster is not None:
            with _suppress():
                os.killpg(os.getpgid(postmaster), signal.SIGKILL)
        member.process.wait(30)
        # The postmaster's children notice their parent is gone and exit by themselves.
        _wait_port_closed(member.pg_port)

    def stop(self) -> None:
        for member in self.members:
            if member.process and member.process.poll() is None:
                with _suppress():
                    os.killpg(member.process.pid, signal.SIGTERM)
        for member in self.members:
            if member.process:
                try:
                    member.process.wait(30)
                except subprocess.TimeoutExpired:
                    with _suppress():
                        os.killpg(member.process.pid, signal.SIGKILL)
        if self.etcd and self.etcd.poll() is None:
            self.etcd.terminate()
            self.etcd.wait(30)
        shutil.rmtree(self.base, ignore_errors=True)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)  # type: ignore[arg-type]


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _wait_port_closed(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.1)


def start_cluster(members: int = 3) -> Cluster:
    ensure_packages()
    # Not pytest's tmp_path: /tmp/pytest-of-root is 0700 and the postgres account must get in.
    base = Path(tempfile.mkdtemp(prefix="diary-ha-"))
    base.chmod(0o777)
    cluster = Cluster(base=base, etcd_port=free_port())
    peer = free_port()
    etcd_log = base / "etcd.log"
    with etcd_log.open("ab") as output:
        cluster.etcd = subprocess.Popen(
            [
                "/usr/bin/etcd",
                "--name=diary-etcd",
                f"--data-dir={base / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{cluster.etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{cluster.etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=diary-etcd=http://127.0.0.1:{peer}",
            ],
            env={"PATH": "/usr/bin:/bin"} | _etcd_arch() | clock_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for index in range(1, members + 1):
            data = base / f"pg{index}"
            member = Member(f"pg{index}", free_port(), free_port(), data, base / f"pg{index}.log")
            cluster.members.append(member)
        # The first member bootstraps; the others clone it once it leads.
        cluster.start_member(cluster.members[0])
        cluster.wait_healthy(replicas=0)
        for member in cluster.members[1:]:
            cluster.start_member(member)
        cluster.wait_healthy(replicas=members - 1)
        _create_database(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _etcd_arch() -> dict[str, str]:
    # etcd 3.4 refuses to start on architectures other than amd64 unless told it may.
    return {} if os.uname().machine == "x86_64" else {"ETCD_UNSUPPORTED_ARCH": "arm64"}


def _create_database(cluster: Cluster) -> None:
    leader = cluster.leader()
    assert leader is not None
    subprocess.run(
        [
            str(BINDIR / "psql"),
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:{leader.pg_port}/postgres",
            "-qc",
            "CREATE DATABASE diary",
        ],
        check=True,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
    )


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so that the cluster is stopped
    started = start_cluster()
    print("cluster up:", started.url, "base:", started.base)
    try:
        signal.pause()
    finally:
        started.stop()
