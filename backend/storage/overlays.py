"""Engine-specific overlays, applied after the common migrations.

PostgreSQL: list partitioning of citizen data by region. Every citizen table becomes
``PARTITION BY LIST (region)`` with one partition per row of ``regions`` and a DEFAULT partition
(outbox rows of chats that belong to no case yet have region ''; a region that arrives later
lands there until :func:`add_region_partitions` gives it its own partition). The region is the
first column of every key of these tables (sql/migrations), which is what PostgreSQL requires of
unique constraints on a partitioned table.

The overlay works on an existing, populated database. Each table is converted in a transaction
of its own, so an interruption leaves every table either as it was or fully converted, and
running the overlay again finishes the job; a table that is already partitioned (listed in
``pg_partitioned_table``) is left alone. Converting a table:

1. lock it, read its columns, checks, keys, foreign keys (both ways), indexes and grants from
   the catalog (``pg_get_constraintdef``/``pg_get_indexdef``: nothing is written down twice, so
   a column or index added by a later migration is carried over too);
2. drop the foreign keys of other tables that point at it, rename it out of the way and free
   its index and constraint names;
3. create the partitioned table (``LIKE`` the old one: columns, NOT NULL, defaults), its checks
   and partitions, copy the rows, then add the keys, indexes and foreign keys under their
   original names (so ``ON CONFLICT`` targets, partial unique indexes used as arbiters and later
   ``CREATE INDEX IF NOT EXISTS`` migrations all find what they expect), restore the foreign
   keys that point at it, the grants and the owner;
4. drop the old table, and ANALYZE the new one after the commit (autovacuum never analyzes a
   partitioned parent).

No functions, triggers or other objects are left behind; only asyncpg and plain SQL are used.
Run it with writers stopped or quiet: a table is locked while its rows are copied.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

import asyncpg

from backend.storage.database import RETRYABLE, Database
from backend.storage.tuning import tune_postgresql

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# The citizen tables, in an order in which each comes after the tables it references
# (activation codes and diary entries reference cases).
CITIZEN_TABLES = (
    "cases",
    "activation_codes",
    "rounds",
    "prompts",
    "diary_entries",
    "outbox",
    "escalations",
)
# Region-keyed tables of later migrations: converted when they exist.
OPTIONAL_TABLES = ("audit_log",)
PARTITION_KEY = "region"
DEFAULT_SUFFIX = "__default"
_OLD_SUFFIX = "__unpartitioned"
_MAX_IDENTIFIER = 63  # bytes; PostgreSQL truncates longer names
_SIMPLE_REGION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_ATTEMPTS = 5


class OverlayError(RuntimeError):
    """The overlay cannot be applied here; the message says why and what to do."""


@dataclass(frozen=True)
class Partition:
    name: str
    values: tuple[str, ...] | None  # None for the DEFAULT partition


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A string constant (standard_conforming_strings is checked to be on before use)."""
    return "'" + value.replace("'", "''") + "'"


def partition_name(table: str, region: str) -> str:
    """``cases_de_berlin_mitte`` for region ``de-berlin-mitte`` of ``cases``.

    Region ids of the regions file (a-z, 0-9, single dashes) map one to one onto these names;
    anything else, or a name over PostgreSQL's 63 bytes, gets a shortened slug and a hash after
    a double underscore, which the simple form never contains.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", region.lower()).strip("_")
    name = f"{table}_{slug}"
    if _SIMPLE_REGION.fullmatch(region) and len(name) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(region.encode()).hexdigest()[:8]
    room = _MAX_IDENTIFIER - len(table) - len(digest) - 3
    return f"{table}__{slug[:room]}_{digest}"


def default_partition_name(table: str) -> str:
    return f"{table}{DEFAULT_SUFFIX}"


async def apply_postgresql_partitioning(
    db: Database,
    *,
    lock_timeout: str = "10s",
    statement_timeout: float = 6 * 3600,
) -> list[str]:
    """Partition every citizen table by region; return what was done (empty if nothing was).

    ``lock_timeout`` bounds each wait for a table lock (a few retries follow, then an
    :class:`OverlayError`); ``statement_timeout`` (seconds) bounds each statement, the copy of
    a large table included.
    """
    await _check_server(db)
    tables = await _tables_present(db)
    done = []
    for table in tables:
        message = await _with_lock_retries(
            db, table, _convert_table, table, lock_timeout, statement_timeout
        )
        if message is not None:
            log.info("overlay: %s", message)
            done.append(message)
            async with db.pool.acquire() as conn:
                await conn.execute(f"ANALYZE {quote_ident(table)}", timeout=statement_timeout)
    done.extend(
        await add_region_partitions(
            db, lock_timeout=lock_timeout, statement_timeout=statement_timeout
        )
    )
    await tune_postgresql(db)  # the partitions get the tables' storage settings (logged)
    return done


async def add_region_partitions(
    db: Database,
    *,
    lock_timeout: str = "10s",
    statement_timeout: float = 6 * 3600,
) -> list[str]:
    """Give every region of ``regions`` its own partition in each partitioned citizen table.

    Rows of a region that arrived after the overlay sit in the DEFAULT partition; PostgreSQL
    refuses a new partition while the default holds matching rows, so they are moved into the
    new partition in the same transaction. Harmless on a database without the overlay (its
    tables are not partitioned: nothing to do), when every region has its partition, and on
    other engines (CockroachDB and YugabyteDB place rows by their own overlays), so it may be
    called at every start-up after the regions file is mirrored.
    """
    if db.engine != "postgresql":
        return []
    await _check_server(db)
    rows = await db.fetch("SELECT id FROM regions ORDER BY id")
    regions = [row["id"] for row in rows]
    done = []
    for table in await _tables_present(db):
        async with db.pool.acquire() as conn:
            if not await _is_partitioned(conn, table):
                continue
            covered = {value for p in await _partitions(conn, table) for value in p.values or ()}
        for region in regions:
            if region in covered:
                continue
            message = await _with_lock_retries(
                db, table, _add_partition, table, region, lock_timeout, statement_timeout
            )
            if message is not None:
                log.info("overlay: %s", message)
                done.append(message)
    if done:
        await tune_postgresql(db)  # new partitions get the tables' storage settings (logged)
    return done


async def partitions(db: Database, table: str) -> list[Partition]:
    """The partitions of ``table`` (empty if it is not partitioned), DEFAULT last."""
    async with db.pool.acquire() as conn:
        found = await _partitions(conn, table)
    return sorted(found, key=lambda p: (p.values is None, p.name))


# --- converting one table ------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """What a table is made of, read from the catalog before it is rebuilt."""

    owner: str
    columns: tuple[str, ...]
    checks: tuple[tuple[str, str], ...]  # (name, definition)
    keys: tuple[tuple[str, str], ...]  # primary key and unique constraints
    foreign_keys: tuple[tuple[str, str], ...]
    indexes: tuple[tuple[str, str], ...]  # (name, CREATE INDEX statement) without constraints
    referenced_by: tuple[tuple[str, str, str], ...]  # (table, name, definition)
    grants: tuple[str, ...]  # GRANT statements that give the new table the old one's grants


async def _convert_table(
    conn: asyncpg.Connection, table: str, lock_timeout: str, statement_timeout: float
) -> str | None:
    if await _is_partitioned(conn, table):
        return None
    t, old = quote_ident(table), quote_ident(table + _OLD_SUFFIX)

    async def run(sql: str) -> str:
        return await conn.execute(sql, timeout=statement_timeout)

    await run(f"SET LOCAL lock_timeout = {quote_literal(lock_timeout)}")
    await run(f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE")
    info = await _describe(conn, table)
    if PARTITION_KEY not in info.columns:
        raise OverlayError(f"{table} has no {PARTITION_KEY} column to partition by.")
    regions = [row["id"] for row in await conn.fetch("SELECT id FROM regions ORDER BY id")]

    for child, name, _ in info.referenced_by:
        await run(f"ALTER TABLE {child} DROP CONSTRAINT {quote_ident(name)}")
    await run(f"ALTER TABLE {t} RENAME TO {old}")
    # LIKE before the keys are dropped, so that NOT NULL is seen exactly as declared.
    await run(
        f"CREATE TABLE {t} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS)"
        f" PARTITION BY LIST ({quote_ident(PARTITION_KEY)})"
    )
    for name, _ in info.indexes:
        await run(f"DROP INDEX {quote_ident(name)}")
    for name, _ in info.keys:
        await run(f"ALTER TABLE {old} DROP CONSTRAINT {quote_ident(name)}")
    for name, definition in info.checks:
        await run(f"ALTER TABLE {t} ADD CONSTRAINT {quote_ident(name)} {definition}")
    created = []
    for region in regions:
        created.append(partition_name(table, region))
        await run(
            f"CREATE TABLE {quote_ident(created[-1])} PARTITION OF {t}"
            f" FOR VALUES IN ({quote_literal(region)})"
        )
    created.append(default_partition_name(table))
    await run(f"CREATE TABLE {quote_ident(created[-1])} PARTITION OF {t} DEFAULT")

    columns = ", ".join(quote_ident(column) for column in info.columns)
    status = await run(f"INSERT INTO {t} ({columns}) SELECT {columns} FROM {old}")
    moved = int(status.split()[-1])

    for name, definition in info.keys:
        await run(f"ALTER TABLE {t} ADD CONSTRAINT {quote_ident(name)} {definition}")
    for _, statement in info.indexes:
        await run(statement)  # read before the rename: it names the table as it is now
    for name, definition in info.foreign_keys:
        await run(f"ALTER TABLE {t} ADD CONSTRAINT {quote_ident(name)} {definition}")
    for child, name, definition in info.referenced_by:
        await run(f"ALTER TABLE {child} ADD CONSTRAINT {quote_ident(name)} {definition}")
    for grant in info.grants:
        await run(grant)
    await _give_to_owner(conn, info.owner, [table, *created], run)
    await run(f"DROP TABLE {old}")
    return (
        f"{table}: partitioned by {PARTITION_KEY} ({len(regions)} region partitions and a "
        f"DEFAULT partition), {moved} rows moved"
    )


async def _add_partition(
    conn: asyncpg.Connection,
    table: str,
    region: str,
    lock_timeout: str,
    statement_timeout: float,
) -> str | None:
    if not await _is_partitioned(conn, table):
        return None

    async def run(sql: str) -> str:
        return await conn.execute(sql, timeout=statement_timeout)

    t, value = quote_ident(table), quote_literal(region)
    await run(f"SET LOCAL lock_timeout = {quote_literal(lock_timeout)}")
    await run(f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE")
    found = await _partitions(conn, table)
    if any(region in (p.values or ()) for p in found):
        return None  # another instance was quicker
    name = partition_name(table, region)
    default = next((p.name for p in found if p.values is None), None)
    waiting = 0
    if default is not None:
        rows = await conn.fetch(
            f"SELECT count(*) AS n FROM {quote_ident(default)} WHERE {PARTITION_KEY} = $1", region
        )
        waiting = rows[0]["n"]
    owner = (await _describe_owner(conn, table))[0]
    if waiting == 0:
        await run(f"CREATE TABLE {quote_ident(name)} PARTITION OF {t} FOR VALUES IN ({value})")
        await _give_to_owner(conn, owner, [name], run)
        return f"{table}: partition {name} for region {region!r}"

    # The region's rows leave the default partition for a new table that is then attached.
    # Foreign keys pointing at this table would refuse the delete: they are dropped and added
    # again (which checks every referencing row) around the move.
    referenced_by = await _referenced_by(conn, table)
    for child, constraint, _ in referenced_by:
        await run(f"ALTER TABLE {child} DROP CONSTRAINT {quote_ident(constraint)}")
    columns = ", ".join(quote_ident(c) for c in await _columns(conn, table))
    await run(
        f"CREATE TABLE {quote_ident(name)} (LIKE {t} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        " INCLUDING STORAGE INCLUDING COMMENTS)"
    )
    await run(
        f"WITH moved AS (DELETE FROM {quote_ident(default)} WHERE {quote_ident(PARTITION_KEY)}"
        f" = {value} RETURNING {columns})"
        f" INSERT INTO {quote_ident(name)} ({columns}) SELECT {columns} FROM moved"
    )
    await run(f"ALTER TABLE {t} ATTACH PARTITION {quote_ident(name)} FOR VALUES IN ({value})")
    for child, constraint, definition in referenced_by:
        await run(f"ALTER TABLE {child} ADD CONSTRAINT {quote_ident(constraint)} {definition}")
    await _give_to_owner(conn, owner, [name], run)
    return (
        f"{table}: partition {name} for region {region!r}, {waiting} rows moved from the "
        "DEFAULT partition"
    )


# --- the catalog ---------------------------------------------------------------------------


async def _oid(conn: asyncpg.Connection, table: str) -> int:
    rows = await conn.fetch("SELECT to_regclass($1)::oid AS oid", quote_ident(table))
    if rows[0]["oid"] is None:
        raise OverlayError(f"table {table} does not exist; run `symptom-diary migrate` first.")
    return rows[0]["oid"]


async def _is_partitioned(conn: asyncpg.Connection, table: str) -> bool:
    rows = await conn.fetch(
        "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass($1)", quote_ident(table)
    )
    return bool(rows)


async def _partitions(conn: asyncpg.Connection, table: str) -> list[Partition]:
    rows = await conn.fetch(
        """
        SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = to_regclass($1)
        """,
        quote_ident(table),
    )
    found = []
    for row in rows:
        bound = row["bound"] or ""
        if bound.strip().upper() == "DEFAULT":
            found.append(Partition(row["name"], None))
        else:
            values = tuple(m.group(1).replace("''", "'") for m in _LITERAL.finditer(bound))
            found.append(Partition(row["name"], values))
    return found


async def _columns(conn: asyncpg.Connection, table: str) -> list[str]:
    rows = await conn.fetch(
        """
        SELECT attname FROM pg_attribute
        WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum
        """,
        await _oid(conn, table),
    )
    return [row["attname"] for row in rows]


async def _referenced_by(conn: asyncpg.Connection, table: str) -> list[tuple[str, str, str]]:
    """Foreign keys of other tables pointing at ``table`` (top-level ones: a partitioned
    table's clones on its partitions go with it)."""
    rows = await conn.fetch(
        """
        SELECT conrelid::regclass::text AS child, conname, pg_get_constraintdef(oid) AS definition
        FROM pg_constraint
        WHERE confrelid = $1 AND contype = 'f' AND conparentid = 0 AND conrelid <> confrelid
        ORDER BY 1, 2
        """,
        await _oid(conn, table),
    )
    return [(row["child"], row["conname"], row["definition"]) for row in rows]


async def _describe_owner(conn: asyncpg.Connection, table: str) -> tuple[str, str]:
    """(owner of ``table``, the current user)."""
    rows = await conn.fetch(
        "SELECT pg_get_userbyid(relowner) AS owner, current_user AS me"
        " FROM pg_class WHERE oid = $1",
        await _oid(conn, table),
    )
    return rows[0]["owner"], rows[0]["me"]


async def _describe(conn: asyncpg.Connection, table: str) -> _Table:
    oid = await _oid(conn, table)
    # What the copy would silently lose is refused instead (the migrations create none of it).
    extras = await conn.fetch(
        """
        SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal)
                   AS triggers,
               (SELECT count(*) FROM pg_policy WHERE polrelid = $1) AS policies,
               (SELECT count(*) FROM pg_publication_rel WHERE prrelid = $1) AS publications,
               (SELECT count(*) FROM pg_rewrite WHERE ev_class = $1) AS rules
        """,
        oid,
    )
    found = {name: n for name, n in extras[0].items() if n}
    if found:
        listed = ", ".join(f"{n} {name}" for name, n in found.items())
        raise OverlayError(
            f"{table} has {listed}, which the overlay would not carry over; remove them first."
        )
    constraints = await conn.fetch(
        """
        SELECT conname, contype::TEXT AS contype, pg_get_constraintdef(oid) AS definition
        FROM pg_constraint WHERE conrelid = $1 AND conparentid = 0 ORDER BY conname
        """,
        oid,
    )
    kinds: dict[str, list[tuple[str, str]]] = {"c": [], "p": [], "u": [], "f": []}
    for row in constraints:
        if row["contype"] == "n":  # NOT NULL (PostgreSQL 18): copied by LIKE
            continue
        if row["contype"] not in kinds:
            raise OverlayError(
                f"{table} has constraint {row['conname']} of a kind the overlay does not carry "
                f"over ({row['contype']!r})."
            )
        kinds[row["contype"]].append((row["conname"], row["definition"]))
    indexes = await conn.fetch(
        """
        SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = $1
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                          WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
        ORDER BY ic.relname
        """,
        oid,
    )
    grants = await conn.fetch(
        """
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                    ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee,
               a.privilege_type, a.is_grantable
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = $1 AND a.grantee <> c.relowner
        ORDER BY 1, 2
        """,
        oid,
    )
    owner, _ = await _describe_owner(conn, table)
    return _Table(
        owner=owner,
        columns=tuple(await _columns(conn, table)),
        checks=tuple(kinds["c"]),
        keys=tuple(sorted(kinds["p"]) + sorted(kinds["u"])),
        foreign_keys=tuple(kinds["f"]),
        indexes=tuple((row["name"], row["definition"]) for row in indexes),
        referenced_by=tuple(await _referenced_by(conn, table)),
        grants=tuple(
            f"GRANT {row['privilege_type']} ON {quote_ident(table)} TO {row['grantee']}"
            + (" WITH GRANT OPTION" if row["is_grantable"] else "")
            for row in grants
        ),
    )


async def _give_to_owner(
    conn: asyncpg.Connection,
    owner: str,
    tables: Sequence[str],
    run: Callable[[str], Awaitable[str]],
) -> None:
    """New tables belong to whoever runs the overlay; give them to the old table's owner."""
    rows = await conn.fetch("SELECT current_user AS me")
    if rows[0]["me"] == owner:
        return
    for table in tables:
        await run(f"ALTER TABLE {quote_ident(table)} OWNER TO {quote_ident(owner)}")


# --- checks and retries --------------------------------------------------------------------


async def _check_server(db: Database) -> None:
    if db.engine != "postgresql":
        raise OverlayError(
            f"the partitioning overlay is for PostgreSQL, not {db.engine}; see "
            "sql/overlays/ for the CockroachDB and YugabyteDB overlays."
        )
    rows = await db.fetch(
        "SELECT current_setting('server_version_num')::INT4 AS version,"
        " current_setting('standard_conforming_strings') AS scs"
    )
    if rows[0]["version"] < 120000:
        raise OverlayError(
            "PostgreSQL 12 or later is needed (foreign keys that reference partitioned tables)."
        )
    if rows[0]["scs"] != "on":
        raise OverlayError("standard_conforming_strings must be on (the default).")


async def _tables_present(db: Database) -> list[str]:
    present = []
    for table in CITIZEN_TABLES + OPTIONAL_TABLES:
        rows = await db.fetch("SELECT to_regclass($1) IS NOT NULL AS ok", quote_ident(table))
        if rows[0]["ok"]:
            present.append(table)
        elif table in CITIZEN_TABLES:
            raise OverlayError(f"table {table} does not exist; run `symptom-diary migrate` first.")
    return present


async def _with_lock_retries(
    db: Database,
    table: str,
    fn: Callable[Concatenate[asyncpg.Connection, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """One transaction (retried by ``db.transaction`` on 40001/40P01), tried again a few times
    when a table lock could not be had within the lock timeout. Other errors become an
    :class:`OverlayError` naming the table; the transaction has rolled back."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await db.transaction(fn, *args, **kwargs)
        except asyncpg.LockNotAvailableError:
            if attempt == _ATTEMPTS:
                raise OverlayError(
                    f"{table} stayed locked by other sessions; stop the service's writers (or "
                    "retry in a quieter moment) and run the overlay again."
                ) from None
            log.info("overlay: %s is busy, trying again", table)
            await asyncio.sleep(attempt)
        except RETRYABLE:
            raise
        except asyncpg.PostgresError as error:
            raise OverlayError(f"{table}: {type(error).__name__}: {error}") from error
    raise AssertionError("unreachable")
