"""Numbered SQL migrations from ``sql/migrations/NNNN_name.sql``.

Each statement of a migration runs in a transaction of its own (DDL and DML mixed in one
transaction behave differently on CockroachDB), and every statement is idempotent, so a
migration cut off half-way is finished by simply running ``migrate`` again. A migration is
recorded in ``schema_migrations`` after its last statement.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from backend.storage.database import Database
from backend.storage.tuning import tune_postgresql

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "sql" / "migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INT4 PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class SchemaError(RuntimeError):
    """The database schema does not fit this version of the code."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class SchemaStatus:
    applied: int  # highest applied version, 0 for an empty database
    expected: int  # highest version this code knows

    @property
    def current(self) -> bool:
        return self.applied == self.expected


def split_statements(sql: str) -> tuple[str, ...]:
    """Split a migration into statements: each ends with ``;`` at the end of a line.

    Migrations contain no function bodies or quoted semicolons (no PL/pgSQL, by house rule),
    so this simple split is exact.
    """
    without_comments = "\n".join(
        line for line in sql.splitlines() if not line.lstrip().startswith("--")
    )
    parts = re.split(r";\s*$", without_comments, flags=re.MULTILINE)
    return tuple(part.strip() for part in parts if part.strip())


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise SchemaError(f"migration file {path.name} is not named NNNN_name.sql")
        statements = split_statements(path.read_text(encoding="utf-8"))
        migrations.append(Migration(int(match.group(1)), match.group(2), statements))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise SchemaError(f"migration versions must run 1, 2, 3... without gaps, got {versions}")
    return migrations


async def _applied_version(conn: asyncpg.Connection) -> int:
    exists = await conn.fetch("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
    if not exists[0]["present"]:
        return 0
    rows = await conn.fetch("SELECT coalesce(max(version), 0) AS version FROM schema_migrations")
    return rows[0]["version"]


async def schema_status(db: Database, directory: Path = MIGRATIONS_DIR) -> SchemaStatus:
    expected = len(load_migrations(directory))
    async with db.pool.acquire() as conn:
        applied = await _applied_version(conn)
    return SchemaStatus(applied=applied, expected=expected)


async def check_schema(db: Database, directory: Path = MIGRATIONS_DIR) -> SchemaStatus:
    """Refuse a database whose schema is newer (code too old) or older (not migrated)."""
    status = await schema_status(db, directory)
    if status.applied > status.expected:
        raise SchemaError(
            f"the database schema is at version {status.applied} but this code knows only "
            f"{status.expected}; run a newer release of symptom-diary."
        )
    if status.applied < status.expected:
        raise SchemaError(
            f"the database schema is at version {status.applied}, this code needs "
            f"{status.expected}; run `symptom-diary migrate` first."
        )
    return status


async def migrate(db: Database, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every migration not yet recorded; return the ones applied now."""
    migrations = load_migrations(directory)
    async with db.pool.acquire() as conn:
        await conn.execute(_BOOTSTRAP)
        applied = await _applied_version(conn)
        if applied > len(migrations):
            raise SchemaError(
                f"the database schema is at version {applied} but this code knows only "
                f"{len(migrations)}; refusing to touch it."
            )
        done = []
        for migration in migrations[applied:]:
            for statement in migration.statements:
                async with conn.transaction():
                    await conn.execute(statement)
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2) "
                    "ON CONFLICT (version) DO NOTHING",
                    migration.version,
                    migration.name,
                )
            log.info("migration %04d_%s applied", migration.version, migration.name)
            done.append(migration)
    await tune_postgresql(db)
    return done
