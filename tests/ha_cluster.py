"""A three-member Patroni cluster with one etcd on loopback, from ``deploy/ha/patroni.yml``.

Started by ``tests/test_failover.py`` (and usable by hand: ``python -m tests.ha_cluster``).
Debian's ``patroni``, ``etcd-server``, ``etcd-client``, ``postgresql-15`` and ``openssl`` are
installed here when missing (as root, apt-get); anything else is a failure that says what is
missing, never a skip. PostgreSQL refuses to run as root, so the members run as the
``postgres`` account.

The shipped file is used as it is, the way an operator would: its secrets come from the
environment (PATRONI_*_PASSWORD), and a second file in the same configuration directory points
its certificate and socket paths at this cluster's directory. The certificates are made here
(a throwaway CA and one certificate for 127.0.0.1), and every call to Patroni's REST API is
HTTPS, checked against that CA, with the API's password.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests import debian
from tests.dates import clock_environment

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "deploy" / "ha" / "patroni.yml"
BINDIR = Path("/usr/lib/postgresql/15/bin")
PACKAGES = debian.NEEDS["failover"]
PASSWORD = "diary-ha-test"  # the database superuser's (the service logs in as it here)
API_USER, API_PASSWORD = "patroni", "diary-ha-api-test"  # restapi.authentication
ACCOUNT = "postgres"
# Peer authentication on the socket: Patroni's database user is the account it runs as.
SUPERUSER = ACCOUNT if os.geteuid() == 0 else getpass.getuser()


def ensure_packages() -> None:
    debian.ensure_packages(PACKAGES, "the failover test")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(
    port: int, ca: Path, path: str, method: str = "GET", body: dict | None = None,
    auth: tuple[str, str] | None = (API_USER, API_PASSWORD),
) -> tuple[int, dict]:  # fmt: skip
    """A call to a member's REST API over HTTPS: (status, JSON body or {}). Raises OSError
    when the member does not answer."""
    request = urllib.request.Request(
        f"https://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    if auth:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {}


@dataclass
class Member:
    name: str
    pg_port: int
    api_port: int
    data: Path
    log: Path
    ca: Path
    process: subprocess.Popen | None = None

    def state(self) -> dict:
        """Patroni's own view of this member (GET /patroni), {} when it does not answer."""
        try:
            return api(self.api_port, self.ca, "/patroni")[1]
        except OSError:
            return {}


@dataclass
class Cluster:
    base: Path
    etcd_port: int
    members: list[Member] = field(default_factory=list)
    etcd: subprocess.Popen | None = None

    @property
    def tls(self) -> Path:
        return self.base / "tls"

    @property
    def config(self) -> Path:
        """The members' configuration directory: the shipped file and this cluster's paths."""
        return self.base / "patroni"

    @property
    def url(self) -> str:
        """The multi-host URL the service is given: asyncpg tries the hosts in turn and keeps
        the one that accepts writes, over TLS checked against the cluster's CA."""
        hosts = ",".join(f"127.0.0.1:{m.pg_port}" for m in self.members)
        return (
            f"postgresql://{SUPERUSER}:{PASSWORD}@{hosts}/diary?target_session_attrs=read-write"
            f"&sslmode=verify-full&sslrootcert={self.tls / 'ca.crt'}"
        )

    def leader(self) -> Member | None:
        for member in self.members:
            if member.process and member.process.poll() is None:
                if member.state().get("role") in ("master", "primary"):
                    return member
        return None

    def cluster_view(self) -> list[dict]:
        for member in self.members:
            try:
                return api(member.api_port, member.ca, "/cluster")[1].get("members", [])
            except OSError:
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
            # The secrets, as an operator's EnvironmentFile gives them (deploy/README.md).
            "PATRONI_SUPERUSER_USERNAME": SUPERUSER,
            "PATRONI_SUPERUSER_PASSWORD": PASSWORD,
            "PATRONI_REPLICATION_PASSWORD": "diary-ha-replication-test",
            "PATRONI_REWIND_PASSWORD": "diary-ha-rewind-test",
            "PATRONI_RESTAPI_PASSWORD": API_PASSWORD,
        } | clock_environment()
        ids = (
            {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
        )
        with member.log.open("ab") as output:
            member.process = subprocess.Popen(
                ["/usr/bin/patroni", str(self.config)],
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


_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[node]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, IP:127.0.0.1
"""


def make_certificates(directory: Path, owner: pwd.struct_passwd | None) -> None:
    """``ca.crt`` and ``node.crt``/``node.key``: one certificate for every member (they all
    listen on 127.0.0.1), for PostgreSQL, the REST API, etcd and Patroni as etcd's client."""
    directory.mkdir(mode=0o755)
    (directory / "openssl.cnf").write_text(_OPENSSL_CONFIG)
    new_key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -config openssl.cnf"
    serial = f"-set_serial 0x{os.urandom(8).hex()}"
    for command, subject in (
        (f"req -x509 {new_key} -keyout ca.key -out ca.crt -days 30 -extensions ca", "test CA"),
        (f"req -new {new_key} -keyout node.key -out node.csr", "localhost"),
        (
            f"x509 -req -in node.csr -CA ca.crt -CAkey ca.key -out node.crt -days 30 {serial} "
            "-extfile openssl.cnf -extensions node",
            None,
        ),
    ):
        named = ["-subj", f"/CN={subject}"] if subject else []
        result = subprocess.run(
            ["/usr/bin/openssl", *command.split(), *named],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin"} | clock_environment(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"openssl {command.split()[0]} failed: {result.stderr.strip()}")
    for name in ("ca.crt", "node.crt"):
        (directory / name).chmod(0o644)
    for name in ("ca.key", "node.key"):
        (directory / name).chmod(0o600)  # PostgreSQL refuses a key others may read
    if owner is not None:
        os.chown(directory / "node.key", owner.pw_uid, owner.pw_gid)


def write_configuration(cluster: Cluster, owner: pwd.struct_passwd | None) -> None:
    """The configuration directory: deploy/ha/patroni.yml unchanged, then this cluster's paths
    (Patroni merges the directory's *.yml files in name order)."""
    cluster.config.mkdir(mode=0o755)
    (cluster.config / "10-patroni.yml").symlink_to(CONFIG)
    run = cluster.base / "run"  # the socket directory: only the members' account gets in
    run.mkdir(mode=0o750)
    if owner is not None:
        os.chown(run, owner.pw_uid, owner.pw_gid)
    tls = cluster.tls
    paths = {
        "restapi": {
            "certfile": str(tls / "node.crt"),
            "keyfile": str(tls / "node.key"),
            "cafile": str(tls / "ca.crt"),
        },
        "etcd3": {
            "cacert": str(tls / "ca.crt"),
            "cert": str(tls / "node.crt"),
            "key": str(tls / "node.key"),
        },
        "postgresql": {
            "authentication": {
                "replication": {"sslrootcert": str(tls / "ca.crt")},
                "rewind": {"sslrootcert": str(tls / "ca.crt")},
            },
            "parameters": {
                "unix_socket_directories": str(run),
                "ssl_cert_file": str(tls / "node.crt"),
                "ssl_key_file": str(tls / "node.key"),
            },
        },
    }
    # JSON is YAML.
    (cluster.config / "20-test-paths.yml").write_text(json.dumps(paths, indent=2) + "\n")


def start_cluster(members: int = 3) -> Cluster:
    ensure_packages()
    # Not pytest's tmp_path: /tmp/pytest-of-root is 0700 and the postgres account must get in.
    base = Path(tempfile.mkdtemp(prefix="diary-ha-"))
    base.chmod(0o777)
    cluster = Cluster(base=base, etcd_port=free_port())
    owner = pwd.getpwnam(ACCOUNT) if os.geteuid() == 0 else None
    try:
        make_certificates(cluster.tls, owner)
        write_configuration(cluster, owner)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    tls = cluster.tls
    peer = free_port()
    etcd_log = base / "etcd.log"
    with etcd_log.open("ab") as output:
        cluster.etcd = subprocess.Popen(
            [
                "/usr/bin/etcd",
                "--name=diary-etcd",
                f"--data-dir={base / 'etcd'}",
                # Clients over TLS, with a certificate of the cluster's CA (deploy/README.md).
                f"--listen-client-urls=https://127.0.0.1:{cluster.etcd_port}",
                f"--advertise-client-urls=https://127.0.0.1:{cluster.etcd_port}",
                f"--cert-file={tls / 'node.crt'}",
                f"--key-file={tls / 'node.key'}",
                f"--trusted-ca-file={tls / 'ca.crt'}",
                "--client-cert-auth",
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
            log = base / f"pg{index}.log"
            member = Member(f"pg{index}", free_port(), free_port(), data, log, tls / "ca.crt")
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
            f"postgresql://{SUPERUSER}:{PASSWORD}@127.0.0.1:{leader.pg_port}/postgres"
            f"?sslmode=verify-full&sslrootcert={cluster.tls / 'ca.crt'}",
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
