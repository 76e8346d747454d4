"""The PostgreSQL servers the project starts keep citizens' data out of their own logs.

By default PostgreSQL writes a failing statement's text to its log, with the error's DETAIL
("Key (note)=(...) already exists", "Failing row contains (...)") and CONTEXT (a bound
parameter, a piece of JSON). Here statements that fail in each of those ways carry a
recognisable note; the server's log must not contain it. This module checks the embedded server
(backend/storage/embedded.py, what ``make run`` and the tests use); tests/test_database_tls.py
checks its Debian server and tests/test_failover.py the Patroni members (deploy/ha), with
``provoke_failing_statements`` and ``assert_not_logged`` from here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import asyncpg
import pytest

from backend.storage.embedded import start_embedded

# A citizen's free-text note, as recognisable in a log as it is unlikely to be there by chance.
NOTE = "Notiz-7f3a: Husten seit Dienstag"


async def provoke_failing_statements(conn: asyncpg.Connection, note: str = NOTE) -> None:
    """Statements that fail with ``note`` in them, in every way an error can echo a value."""
    await conn.execute(
        "CREATE TEMP TABLE log_probe"
        " (id int PRIMARY KEY, note text UNIQUE CHECK (length(note) < 60), doc jsonb)"
    )
    await conn.execute("INSERT INTO log_probe (id, note) VALUES (1, $1)", note)
    failing: list[tuple[str, tuple[object, ...]]] = [
        # a unique violation: DETAIL Key (note)=(...) already exists
        ("INSERT INTO log_probe (id, note) VALUES ($1, $2)", (2, note)),
        # a check violation: DETAIL Failing row contains (...)
        ("INSERT INTO log_probe (id, note) VALUES ($1, $2)", (3, note + "!" * 60)),
        # a NUL character, which no text column takes: CONTEXT names the parameter
        ("INSERT INTO log_probe (id, note) VALUES ($1, $2)", (4, note + "\x00")),
        # not JSON: CONTEXT JSON data, line 1: ...
        ("INSERT INTO log_probe (id, doc) VALUES ($1, $2::text::jsonb)", (5, note)),
        # the value inside the statement's text (STATEMENT: ...)
        (f"INSERT INTO log_probe (id, note) VALUES (1, '{note} (2)')", ()),
        # the error's first line quotes it: invalid input syntax for type integer: "..."
        (f"SELECT '{note}'::int", ()),
    ]
    for sql, args in failing:
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute(sql, *args)


def assert_not_logged(logs: list[Path], note: str = NOTE) -> None:
    """``note`` is in none of ``logs``, at least one of which the server has written to."""
    texts = {log: log.read_bytes().decode(errors="replace") for log in logs if log.exists()}
    assert any("database system is ready" in text for text in texts.values()), list(texts)
    leaked = [str(log) for log, text in texts.items() if note in text or note[:12] in text]
    assert not leaked, f"the note is in {leaked}"


async def test_the_embedded_server_logs_no_value_of_a_failing_statement(tmp_path: Path) -> None:
    # A server of its own (not the session's, which may be TEST_DATABASE_URL), started the way
    # the service starts one: its log is pgdata/log.
    url = await start_embedded(tmp_path, database="postgres")
    try:
        conn = await asyncpg.connect(url)
        try:
            await provoke_failing_statements(conn)
        finally:
            await conn.close()
        assert_not_logged([tmp_path / "postgres" / "log"])
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        # Stops it now rather than when pytest exits (this process holds the only handle).
        pgserver.get_server(tmp_path / "postgres").cleanup()
