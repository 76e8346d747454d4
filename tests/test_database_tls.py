"""Database TLS as a secure CockroachDB cluster (or a hardened PostgreSQL) asks for it.

A PostgreSQL started here, with certificates made here, accepts only TLS connections that log
in with a client certificate (``hostssl ... cert``: the certificate's CN is the user, there is
no password). The service reaches it through ``DIARY_DATABASE_URL`` alone: ``sslmode=
verify-full`` with ``sslrootcert``, ``sslcert`` and ``sslkey`` in the query string, under the
``postgresql://`` and the ``cockroachdb://`` scheme.

Needs a PostgreSQL server built with OpenSSL (Debian's ``postgresql`` package; the embedded
pgserver build has none) and the ``openssl`` command: both are installed when missing (as root,
apt-get), and without them the tests fail saying so, never skip. Set ``TEST_TLS_PG_BINDIR`` to
pick a server's ``bin`` directory.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import pytest

from backend.config.settings import Settings
from backend.storage.database import Database, DatabaseUnreachable
from backend.storage.embedded import SERVER_LOG_SETTINGS
from tests import debian
from tests.dates import clock_environment
from tests.test_database_server_logs import assert_not_logged, provoke_failing_statements

USER = "diary"
DATABASE = "diary"
# All of 127.0.0.0/8 is loopback on Linux; the server certificate names only 127.0.0.1.
OTHER_LOOPBACK = "127.0.0.2"
SERVER_ACCOUNTS = ("pgserver", "postgres")  # PostgreSQL refuses to run as root
TOOLS = ("initdb", "pg_ctl", "postgres", "psql")
# Debian's server is built with OpenSSL (the embedded pgserver build is not).
SERVER_PACKAGES = {k: debian.NEEDS["test"][k] for k in ("postgresql", "openssl")}


# --- finding a server built with SSL -----------------------------------------------------


def _links_openssl(postgres: Path) -> bool:
    ldd = shutil.which("ldd")
    if ldd:
        result = subprocess.run([ldd, postgres], capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return "libssl" in result.stdout
    return b"libssl" in postgres.read_bytes()  # the dynamic section names it


def _version(bindir: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)


def find_ssl_bindir() -> tuple[Path | None, str]:
    """A ``bin`` directory with all of TOOLS whose ``postgres`` is linked to OpenSSL."""
    override = os.environ.get("TEST_TLS_PG_BINDIR")
    if override:
        candidates = [Path(override)]
    else:
        found = (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        candidates = sorted(found, key=_version, reverse=True)
        if pg_config := shutil.which("pg_config"):
            result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
            if result.returncode == 0 and result.stdout.strip():
                candidates.append(Path(result.stdout.strip()))
        if on_path := shutil.which("postgres"):
            candidates.append(Path(on_path).resolve().parent)
    for bindir in dict.fromkeys(candidates):
        if all(os.access(bindir / tool, os.X_OK) for tool in TOOLS) and _links_openssl(
            bindir / "postgres"
        ):
            return bindir, ""
    looked = ", ".join(map(str, dict.fromkeys(candidates))) or "/usr/lib/postgresql/*/bin"
    return None, (
        f"no PostgreSQL server built with SSL (with {', '.join(TOOLS)}) found in {looked}; "
        "install Debian's postgresql package or set TEST_TLS_PG_BINDIR"
    )


def server_account() -> tuple[pwd.struct_passwd | None, str]:
    """The account that runs the server: this one, or an unprivileged one if we are root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()), ""
    for name in SERVER_ACCOUNTS:
        try:
            return pwd.getpwnam(name), ""
        except KeyError:
            continue
    return None, (
        f"running as root and no user {' or '.join(SERVER_ACCOUNTS)} exists to run PostgreSQL"
    )


def loopback_alias_usable() -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((OTHER_LOOPBACK, 0))
        except OSError:
            return False
    return True


def free_port(alias: bool) -> int:
    """A port free on 127.0.0.1 (and on OTHER_LOOPBACK if the server listens there too)."""
    for _ in range(20):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                if alias:
                    second.bind((OTHER_LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port on the loopback interface")


# --- certificates ------------------------------------------------------------------------

_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, IP:127.0.0.1
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(directory: Path, command: str, *subject: str) -> None:
    """``openssl`` in ``directory``, on file names without spaces; ``subject`` may have some."""
    result = subprocess.run(
        ["openssl", *command.split(), *subject],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENSSL_CONF": "openssl.cnf"}
        | clock_environment(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {command.split()[0]} failed: {result.stderr.strip()}")


def _certificate(directory: Path, name: str, cn: str, kind: str, ca: str | None) -> None:
    """``name.key`` (0600, P-256) and ``name.crt``: a ``kind`` certificate for ``cn``, signed
    by the CA ``ca`` (``ca.crt``/``ca.key``), or self-signed if ``ca`` is None."""
    _openssl(directory, f"genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out {name}.key")
    (directory / f"{name}.key").chmod(0o600)
    serial = f"-set_serial 0x{os.urandom(8).hex()}"
    if ca is None:
        _openssl(
            directory,
            f"req -x509 -new -key {name}.key -out {name}.crt -days 2 -extensions {kind} {serial}",
            "-subj",
            f"/CN={cn}",
        )
    else:
        _openssl(directory, f"req -new -key {name}.key -out {name}.csr", "-subj", f"/CN={cn}")
        _openssl(
            directory,
            f"x509 -req -in {name}.csr -CA {ca}.crt -CAkey {ca}.key -out {name}.crt -days 2 "
            f"-extfile openssl.cnf -extensions {kind} {serial}",
        )
    (directory / f"{name}.crt").chmod(0o644)


def make_certificates(directory: Path) -> None:
    (directory / "openssl.cnf").write_text(_OPENSSL_CONFIG)
    _certificate(directory, "ca", "Symptom Diary test CA", "ca", None)
    _certificate(directory, "server", "localhost", "server", "ca")
    _certificate(directory, "client", USER, "client", "ca")
    _certificate(directory, "other-ca", "Unrelated test CA", "ca", None)
    _certificate(directory, "rogue-client", USER, "client", "other-ca")  # right name, wrong CA


# --- the server --------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsServer:
    port: int
    certs: Path
    home: Path  # empty: no ~/.postgresql/postgresql.crt or root.crt for asyncpg to fall back on
    log: Path
    alias: bool  # the server also listens on OTHER_LOOPBACK

    def url(
        self,
        *,
        scheme: str = "postgresql",
        host: str = "localhost",
        user: str = USER,
        **params: str,
    ) -> str:
        """The URL an operator writes; ``params`` override the query (``""`` drops one)."""
        query = {
            "sslmode": "verify-full",
            "sslrootcert": str(self.certs / "ca.crt"),
            "sslcert": str(self.certs / "client.crt"),
            "sslkey": str(self.certs / "client.key"),
        } | params
        query = {k: v for k, v in query.items() if v}
        return f"{scheme}://{user}@{host}:{self.port}/{DATABASE}?{urlencode(query)}"


def _as_server_account(
    account: pwd.struct_passwd, args: list[str | Path], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    ids = {}
    if os.geteuid() == 0:
        ids = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    return subprocess.run(
        args,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": str(cwd)} | clock_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        **ids,
    )


def _stop(bindir: Path, account: pwd.struct_passwd, data: Path, cwd: Path) -> None:
    """``pg_ctl stop -m fast``; if that fails, SIGQUIT to the postmaster this module started."""
    try:
        stop = [bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"]
        if _as_server_account(account, stop, cwd, timeout=60).returncode == 0:
            return
    except subprocess.TimeoutExpired:
        pass
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return  # not running
    try:
        os.kill(pid, signal.SIGQUIT)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    if not os.environ.get("TEST_TLS_PG_BINDIR"):
        debian.ensure_packages(SERVER_PACKAGES, "the database TLS test")
    bindir, reason = find_ssl_bindir()
    if bindir is None:
        pytest.fail(reason)
    account, reason = server_account()
    if account is None:
        pytest.fail(reason)

    # Not pytest's tmp_path: /tmp/pytest-of-root is 0700 and the server's account must get in.
    base = Path(tempfile.mkdtemp(prefix="diary-tls-"))
    base.chmod(0o711)
    certs, data, run, home = base / "certs", base / "data", base / "run", base / "home"
    for directory, mode, server_owned in (
        (certs, 0o711, False),
        (data, 0o700, True),
        (run, 0o755, True),  # the Unix socket and the server log
        (home, 0o700, False),
    ):
        directory.mkdir(mode=mode)
        if server_owned and os.geteuid() == 0:
            os.chown(directory, account.pw_uid, account.pw_gid)
    log = run / "postgres.log"
    started = False
    try:
        make_certificates(certs)
        if os.geteuid() == 0:  # the server reads its key; the client key stays ours
            os.chown(certs / "server.key", account.pw_uid, account.pw_gid)
        initdb = [bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"]
        result = _as_server_account(account, [*initdb, "-E", "UTF8", "--locale=C"], base, 120)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")

        alias = loopback_alias_usable()
        port = free_port(alias)
        # Appending to a file keeps its owner (the server's account).
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1{f',{OTHER_LOOPBACK}' if alias else ''}'\n"
                f"port = {port}\n"
                f"unix_socket_directories = '{run}'\n"
                "ssl = on\n"
                f"ssl_cert_file = '{certs / 'server.crt'}'\n"
                f"ssl_key_file = '{certs / 'server.key'}'\n"
                f"ssl_ca_file = '{certs / 'ca.crt'}'\n"
                "fsync = off\n"
            )
            # No statement, parameter or error detail in its log, as on every server the
            # project starts (tested below).
            conf.writelines(f"{k} = '{v}'\n" for k, v in SERVER_LOG_SETTINGS.items())
        # Over TCP only TLS with a client certificate gets in; the superuser may use the Unix
        # socket to create the role and the database.
        (data / "pg_hba.conf").write_text(
            "local all postgres trust\nhostssl all all 127.0.0.1/32 cert\n"
        )

        started = True
        start = [bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "start"]
        result = _as_server_account(account, start, base, timeout=90)
        if result.returncode != 0:
            text = log.read_text() if log.exists() else ""
            if "not supported by this build" in text:
                pytest.fail(f"{bindir / 'postgres'} is built without SSL")
            raise RuntimeError(f"pg_ctl start failed: {result.stdout}{result.stderr}\n{text}")
        psql = [bindir / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", run, "-p", str(port)]
        result = subprocess.run(
            [
                *psql,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                f"CREATE ROLE {USER} LOGIN",
                "-c",
                f"CREATE DATABASE {DATABASE} OWNER {USER}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"} | clock_environment(),
        )
        if result.returncode != 0:
            raise RuntimeError(f"creating the role and the database failed: {result.stderr}")
        yield TlsServer(port=port, certs=certs, home=home, log=log, alias=alias)
    finally:
        try:
            if started:
                _stop(bindir, account, data, base)
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def isolated(tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncpg falls back on PG* variables and ~/.postgresql: keep both out of the tests."""
    for name in list(os.environ):
        if name.startswith("PG"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tls_server.home))


async def cli(
    repo_root: Path, server: TlsServer, url: str, *args: str, settings: dict | None = None
) -> tuple[int, str, str]:
    """``symptom-diary`` in a subprocess (as tests/test_cli.py runs it) with only this URL
    (and ``settings``)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DIARY_", "PG"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        *args,
        cwd=repo_root,
        env=clean | {"DIARY_DATABASE_URL": url, "HOME": str(server.home)} | (settings or {}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def session(url: str) -> asyncpg.Record:
    """What the server knows about a connection of the service's pool."""
    db = await Database.connect(url, min_size=1, max_size=1)
    try:
        (row,) = await db.fetch(
            "SELECT s.ssl, s.version, s.client_dn, session_user AS who, "
            "host(inet_server_addr()) AS server, "
            "to_regclass('schema_migrations') IS NOT NULL AS migrated "
            "FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
        )
        assert db.engine == "postgresql"
        return row
    finally:
        await db.close()


async def logged(log: Path, text: str, within: float = 30.0) -> bool:
    """Whether ``text`` appears in the server's log within ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while text not in await asyncio.to_thread(log.read_text):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)  # another process writes it: nothing to wait on but the file
    return True


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["postgresql", "cockroachdb"])
async def test_migrate_and_connect_with_verify_full_and_a_client_certificate(
    tls_server: TlsServer, repo_root: Path, isolated: None, scheme: str
) -> None:
    url = tls_server.url(scheme=scheme)
    code, out, err = await cli(repo_root, tls_server, url, "migrate")
    assert code == 0, err
    assert "The database schema is up to date." in out

    row = await session(url)
    assert row["ssl"] is True and row["version"] in ("TLSv1.2", "TLSv1.3")
    assert row["server"] == "127.0.0.1"
    assert row["client_dn"] == f"/CN={USER}"
    assert row["who"] == USER  # logged in by the certificate: no password anywhere
    assert row["migrated"]


async def test_tls_through_settings_instead_of_the_url(
    tls_server: TlsServer, repo_root: Path, isolated: None
) -> None:
    """The URL stays a plain secret; the certificate files are settings (sslmode follows)."""
    url = tls_server.url(sslmode="", sslrootcert="", sslcert="", sslkey="").rstrip("?")
    files = {
        "DIARY_DATABASE_SSLROOTCERT": str(tls_server.certs / "ca.crt"),
        "DIARY_DATABASE_SSLCERT": str(tls_server.certs / "client.crt"),
        "DIARY_DATABASE_SSLKEY": str(tls_server.certs / "client.key"),
    }
    code, out, err = await cli(repo_root, tls_server, url, "migrate", settings=files)
    assert code == 0, err
    settings = Settings.from_env({"DIARY_DATABASE_URL": url} | files)
    row = await session(settings.database_url)
    assert row["ssl"] is True and row["client_dn"] == f"/CN={USER}" and row["who"] == USER

    # Without the settings the same URL does not get in (the server takes certificates only).
    code, _, err = await cli(repo_root, tls_server, url, "migrate")
    assert code != 0 and "cannot connect to the database" in err


async def test_a_server_certificate_from_another_ca_is_refused(
    tls_server: TlsServer, repo_root: Path, isolated: None
) -> None:
    url = tls_server.url(sslrootcert=str(tls_server.certs / "other-ca.crt"))
    with pytest.raises(DatabaseUnreachable, match="SSLCertVerificationError.*certificate verify"):
        await Database.connect(url)

    code, out, err = await cli(repo_root, tls_server, url, "migrate")
    assert code != 0 and "up to date" not in out
    assert "cannot connect to the database" in err and "certificate verify failed" in err
    assert "Traceback" not in err  # one sentence for the operator
    key = (tls_server.certs / "client.key").read_text()
    secret_lines = [line for line in key.splitlines() if line and not line.startswith("-----")]
    assert secret_lines and not any(line in err for line in secret_lines)
    assert "PRIVATE KEY" not in err


async def test_verify_full_checks_the_host_name(tls_server: TlsServer, isolated: None) -> None:
    if not tls_server.alias:
        pytest.skip(f"{OTHER_LOOPBACK} is not a loopback address here")
    with pytest.raises(DatabaseUnreachable, match="IP address mismatch"):
        await Database.connect(tls_server.url(host=OTHER_LOOPBACK))
    # The same server, CA and client certificate pass without the name check: the name was it.
    row = await session(tls_server.url(host=OTHER_LOOPBACK, sslmode="verify-ca"))
    assert row["ssl"] is True and row["server"] == OTHER_LOOPBACK


async def test_the_server_requires_a_client_certificate(
    tls_server: TlsServer, isolated: None
) -> None:
    with pytest.raises(
        DatabaseUnreachable,
        match="InvalidAuthorizationSpecificationError.*requires a valid client certificate",
    ):
        await Database.connect(tls_server.url(sslcert="", sslkey=""))


async def test_a_client_certificate_from_another_ca_is_refused(
    tls_server: TlsServer, isolated: None
) -> None:
    certs = tls_server.certs
    url = tls_server.url(
        sslcert=str(certs / "rogue-client.crt"), sslkey=str(certs / "rogue-client.key")
    )
    # With TLS 1.3 the client finishes its handshake first, then the server hangs up.
    with pytest.raises(DatabaseUnreachable):
        await Database.connect(url)
    # The server logs why only after it has sent its alert, so the client can be told before
    # the line is written (CI saw it missing on a loaded machine): wait for it, within bounds.
    assert await logged(tls_server.log, "certificate verify failed")


async def test_the_certificate_logs_in_only_the_user_it_names(
    tls_server: TlsServer, isolated: None
) -> None:
    with pytest.raises(DatabaseUnreachable, match="certificate authentication failed"):
        await Database.connect(tls_server.url(user="postgres"))


async def test_plaintext_is_refused(tls_server: TlsServer, isolated: None) -> None:
    url = tls_server.url(sslmode="disable", sslrootcert="", sslcert="", sslkey="")
    with pytest.raises(DatabaseUnreachable, match="no encryption"):
        await Database.connect(url)


async def test_the_server_logs_no_value_of_a_failing_statement(
    tls_server: TlsServer, isolated: None
) -> None:
    conn = await asyncpg.connect(tls_server.url())
    try:
        await provoke_failing_statements(conn)
    finally:
        await conn.close()
    assert_not_logged([tls_server.log])
