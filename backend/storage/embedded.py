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
        rows = await conn.fetch("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not rows:
            # Identifiers cannot be bound as parameters; the name is a constant of ours.
            await conn.execute(f'CREATE DATABASE "{database}"')
            log.info("embedded database created in %s", data_dir)
    finally:
        await conn.close()
    return f"postgresql://postgres@/{database}?host={quote(_socket_dir(admin_uri))}"
