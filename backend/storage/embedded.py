"""Embedded PostgreSQL (the pgserver package) for a zero-configuration start.

The server listens only on a Unix socket inside the data directory and is stopped when the
last process using it exits. Several processes (``serve`` and a ``staff create`` beside it)
share one server.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from urllib.parse import quote

import asyncpg

log = logging.getLogger(__name__)

DATABASE_NAME = "symptom_diary"

# What the server writes to its own log (pgdata/log): never a statement's text, its parameters or
# an error's DETAIL/CONTEXT, which quote values ("Key (x)=(...) already exists", "Failing row
# contains (...)", "JSON data, line 1: ..."): a citizen's note must not end up there. ERROR and
# WARNING lines are left out altogether (log_min_messages = log keeps LOG, FATAL and PANIC):
# even an error's first line can quote a value (invalid input syntax for type integer: "...").
# The service reports its own errors. tests/test_database_server_logs.py proves it; the same
# settings are in deploy/ha/patroni.yml and deploy/README.md ("The database server's log").
SERVER_LOG_SETTINGS = {
    "log_min_messages": "log",
    "log_min_error_statement": "panic",
    "log_error_verbosity": "terse",
    "log_statement": "none",
    "log_min_duration_statement": "-1",
    "log_min_duration_sample": "-1",
    "log_transaction_sample_rate": "0",
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
}


def _start_server(pgdata: Path) -> str:
    # Imported here: pgserver sets up locks and runtime directories at import time, which
    # deployments with an external database never need. platformdirs warns when
    # XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata.resolve(), cleanup_mode="stop")
    return server.get_uri()


def _socket_dir(uri: str) -> str:
    return uri.split("host=", 1)[1].split("&", 1)[0]


async def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server under ``data_dir/postgres``; return a database URL."""
    admin_uri = await asyncio.to_thread(_start_server, data_dir / "postgres")
    conn = await asyncpg.connect(admin_uri)
    try:
        await _apply_log_settings(conn)
        rows = await conn.fetch("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not rows:
            # Identifiers cannot be bound as parameters; the name is a constant of ours.
            await conn.execute(f'CREATE DATABASE "{database}"')
            log.info("embedded database created in %s", data_dir)
    finally:
        await conn.close()
    return f"postgresql://postgres@/{database}?host={quote(_socket_dir(admin_uri))}"


async def _apply_log_settings(conn: asyncpg.Connection) -> None:
    """SERVER_LOG_SETTINGS, kept across restarts (ALTER SYSTEM writes postgresql.auto.conf):
    pgserver starts the server itself, so they cannot be given on its command line. A data
    directory made before these settings existed gets them when the service next starts."""
    rows = await conn.fetch(
        "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
        list(SERVER_LOG_SETTINGS),
    )
    current = {row["name"]: row["setting"] for row in rows}
    changed = [name for name, value in SERVER_LOG_SETTINGS.items() if current.get(name) != value]
    for name in changed:
        # ALTER SYSTEM takes no parameters; names and values are constants of ours.
        await conn.execute(f"ALTER SYSTEM SET {name} = '{SERVER_LOG_SETTINGS[name]}'")
    if changed:
        await conn.execute("SELECT pg_reload_conf()")
