"""Database overlays: PostgreSQL list partitioning by region on a populated database, and
consistency checks of the CockroachDB and YugabyteDB overlays (which cannot run here)."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from backend.config.regions import load_regions
from backend.config.settings import DEFAULT_REGIONS_FILE
from backend.domain.clock import FixedClock
from backend.domain.messages import Kind, Outgoing, Priority
from backend.domain.rules import Finding, Rule
from backend.services.context import RegionDirectory, ServiceContext, Signal
from backend.services.setup import reload_regions
from backend.storage import escalations, outbox, rounds
from backend.storage.database import Database
from backend.storage.migrations import load_migrations, migrate, split_statements
from backend.storage.overlays import (
    CITIZEN_TABLES,
    OverlayError,
    add_region_partitions,
    apply_postgresql_partitioning,
    default_partition_name,
    partition_name,
    partitions,
)
from backend.storage.regions import upsert_regions
from tests.conftest import create_database
from tests.test_end_to_end import cli

ROOT = Path(__file__).resolve().parents[1]
BERLIN, KYIV, NEW = "de-berlin-mitte", "ua-kyiv", "pl-krakow"
NOW = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


async def _fresh_database(server_url: str, *, regions: bool = True) -> Database:
    """A database of its own for one test: migrated (never with the overlay), the example
    regions loaded."""
    db = await Database.connect(await create_database(server_url))
    await migrate(db)
    if regions:
        await db.transaction(upsert_regions, list(load_regions(DEFAULT_REGIONS_FILE).values()))
    return db


@pytest.fixture
async def fresh(server_url: str) -> AsyncIterator[Database]:
    db = await _fresh_database(server_url)
    yield db
    await db.close()


async def _populate(db: Database, region: str, cases: int = 2) -> list[uuid.UUID]:
    """Cases with codes, a round, prompts, entries, messages and alerts, in plain SQL."""
    ids = []
    async with db.pool.acquire() as conn:
        for n in range(cases):
            rows = await conn.fetch(
                """
                INSERT INTO cases (region, kind, status, quarantine_start, quarantine_end,
                                   language, chat_id, activated_at)
                VALUES ($1, 'contact', 'active', $2, $3, 'de', $4, $5) RETURNING id
                """,
                region,
                date(2026, 11, 20),
                date(2026, 12, 3),
                hash((region, n)) % 10**9,
                NOW,
            )
            case_id = rows[0]["id"]
            ids.append(case_id)
            await conn.execute(
                """
                INSERT INTO activation_codes (region, code_hash, case_id, expires_at)
                VALUES ($1, $2, $3, $4)
                """,
                region,
                f"hash-{case_id}",
                case_id,
                NOW + timedelta(days=3),
            )
        round_id = (
            await conn.fetch(
                """
                INSERT INTO rounds (region, local_date, slot, origin) VALUES ($1, $2, '08:00',
                'schedule') RETURNING id
                """,
                region,
                date(2026, 11, 26),
            )
        )[0]["id"]
        for case_id in ids:
            prompt_id = (
                await conn.fetch(
                    """
                    INSERT INTO prompts (region, round_id, case_id, chat_id, local_date)
                    VALUES ($1, $2, $3, 42, $4) RETURNING id
                    """,
                    region,
                    round_id,
                    case_id,
                    date(2026, 11, 26),
                )
            )[0]["id"]
            await conn.execute(
                """
                INSERT INTO diary_entries (region, case_id, prompt_id, local_date, feeling_well,
                                           symptoms, temperature_c, trend)
                VALUES ($1, $2, $3, $4, false, '["cough"]', 38.4, 'worse')
                """,
                region,
                case_id,
                prompt_id,
                date(2026, 11, 26),
            )
            await conn.execute(
                """
                INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language, payload)
                VALUES ($1, $2, 2, 'prompt', 42, 'de', $3::JSONB)
                """,
                region,
                f"prompt:{prompt_id}",
                json.dumps({"prompt": str(prompt_id)}),
            )
            for rule, status in (("temperature", "open"), ("worsening", "resolved")):
                await conn.execute(
                    """
                    INSERT INTO escalations (region, case_id, rule, severity, weight, status,
                                             created_at, updated_at)
                    VALUES ($1, $2, $3, 'high', 2.5, $4, $5, $5)
                    """,
                    region,
                    case_id,
                    rule,
                    status,
                    NOW,
                )
        if await _exists(conn, "audit_log"):
            await conn.execute(
                "INSERT INTO audit_log (region, at, action, case_id) VALUES ($1, $2, 'read', $3)",
                region,
                NOW,
                ids[0],
            )
    return ids


async def _exists(conn: asyncpg.Connection, table: str) -> bool:
    rows = await conn.fetch("SELECT to_regclass($1) IS NOT NULL AS ok", table)
    return rows[0]["ok"]


async def _tables(db: Database) -> list[str]:
    async with db.pool.acquire() as conn:
        return [t for t in (*CITIZEN_TABLES, "audit_log") if await _exists(conn, t)]


async def _contents(db: Database) -> dict[str, list[tuple]]:
    """Every row of every citizen table, in a stable order, as plain tuples."""
    found = {}
    for table in await _tables(db):
        rows = await db.fetch(f"SELECT * FROM {table}")
        found[table] = sorted((tuple(map(str, row.values())) for row in rows), key=str)
    return found


async def _schema(db: Database) -> dict[str, set[tuple[str, str]]]:
    """Constraint and index names (with their definitions) of each table's parent."""
    found = {}
    for table in await _tables(db):
        constraints = await db.fetch(
            """
            SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
            WHERE conrelid = to_regclass($1) AND contype <> 'n' AND conparentid = 0
            """,
            table,
        )
        indexes = await db.fetch(
            """
            SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = to_regclass($1)
            """,
            table,
        )
        found[table] = {(r["conname"], r["definition"]) for r in constraints} | {
            # "CREATE INDEX x ON public.t" and "... ON ONLY public.t" are the same index.
            (r["name"], r["definition"].replace(" ON ONLY ", " ON "))
            for r in indexes
        }
    return found


async def _partitioned(db: Database) -> set[str]:
    rows = await db.fetch("SELECT partrelid::regclass::text AS name FROM pg_partitioned_table")
    return {row["name"] for row in rows}


async def test_a_populated_database_is_partitioned_without_losing_anything(
    fresh: Database,
) -> None:
    await _populate(fresh, BERLIN)
    await _populate(fresh, KYIV)
    async with fresh.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language)
            VALUES ('', 'reply:1', 1, 'reply', 7, 'en')
            """
        )
    before, schema_before = await _contents(fresh), await _schema(fresh)

    done = await apply_postgresql_partitioning(fresh)

    tables = await _tables(fresh)
    assert [line.split(":")[0] for line in done] == tables
    assert await _contents(fresh) == before
    assert await _schema(fresh) == schema_before  # same names, same definitions
    assert await _partitioned(fresh) == set(tables)
    regions = [row["id"] for row in await fresh.fetch("SELECT id FROM regions ORDER BY id")]
    for table in tables:
        found = await partitions(fresh, table)
        assert [p.name for p in found] == [
            *sorted(partition_name(table, r) for r in regions),
            default_partition_name(table),
        ]
        for partition in found:
            rows = await fresh.fetch(f"SELECT DISTINCT region FROM {partition.name}")
            held = {row["region"] for row in rows}
            if partition.values is None:
                assert held <= {""}
            else:
                assert held <= set(partition.values)
    berlin = await fresh.fetch(f"SELECT count(*) AS n FROM {partition_name('cases', BERLIN)}")
    assert berlin[0]["n"] == 2
    default = await fresh.fetch(f"SELECT region FROM {default_partition_name('outbox')}")
    assert [row["region"] for row in default] == [""]


async def test_keys_checks_and_foreign_keys_work_as_before(fresh: Database) -> None:
    berlin_cases = await _populate(fresh, BERLIN)
    await _populate(fresh, KYIV)
    await apply_postgresql_partitioning(fresh)
    case_id = berlin_cases[0]

    # The outbox's dedup key, per region, as ON CONFLICT target and as a constraint.
    message = Outgoing(
        chat_id=42,
        kind=Kind.REPLY,
        language="de",
        priority=Priority.INTERACTIVE,
        dedup_key="reply:x",
        region=BERLIN,
    )
    assert await fresh.transaction(outbox.enqueue, [message]) == 1
    assert await fresh.transaction(outbox.enqueue, [message]) == 0
    elsewhere = dataclasses.replace(message, region=KYIV)
    assert await fresh.transaction(outbox.enqueue, [elsewhere]) == 1
    with pytest.raises(asyncpg.UniqueViolationError):
        await fresh.fetch(
            """
            INSERT INTO outbox (region, dedup_key, priority, kind, chat_id, language)
            VALUES ($1, 'reply:x', 1, 'reply', 42, 'de')
            """,
            BERLIN,
        )
    claimed = await fresh.transaction(outbox.claim_due, "w1", 100, timedelta(minutes=1))
    assert {row.region for row in claimed} == {BERLIN, KYIV}
    result = outbox.BatchResult(sent=[(row, 1) for row in claimed])
    await fresh.transaction(outbox.finish_batch, result)
    assert await fresh.transaction(outbox.pending_count) == 0

    # One open alert per case and rule: the partial unique index is the ON CONFLICT arbiter.
    finding = Finding(rule=Rule.TEMPERATURE, severity="urgent", weight=Decimal("3"))
    later = NOW + timedelta(minutes=5)
    alert, new = await fresh.transaction(escalations.raise_alert, BERLIN, case_id, finding, later)
    assert not new and alert.severity == "urgent"  # the open one from _populate, updated
    with pytest.raises(asyncpg.UniqueViolationError):
        await fresh.fetch(
            """
            INSERT INTO escalations (region, case_id, rule, severity, weight, created_at,
                                     updated_at)
            VALUES ($1, $2, 'temperature', 'high', 1, now(), now())
            """,
            BERLIN,
            case_id,
        )
    assert await fresh.transaction(escalations.resolve, BERLIN, alert.id, None, None, NOW)
    again, new = await fresh.transaction(escalations.raise_alert, BERLIN, case_id, finding, later)
    assert new and again.id != alert.id

    # A round is unique per region, date and slot.
    first = await fresh.transaction(
        rounds.insert_round, BERLIN, date(2026, 11, 27), "08:00", "staff", NOW
    )
    assert first is not None
    assert (
        await fresh.transaction(
            rounds.insert_round, BERLIN, date(2026, 11, 27), "08:00", "staff", NOW
        )
        is None
    )

    # Foreign keys, both ways, and checks.
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await fresh.fetch(
            """
            INSERT INTO diary_entries (region, case_id, prompt_id, local_date, feeling_well)
            VALUES ($1, $2, $2, '2026-11-26', true)
            """,
            BERLIN,
            uuid.uuid4(),
        )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await fresh.fetch("DELETE FROM cases WHERE region = $1 AND id = $2", BERLIN, case_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await fresh.fetch(
            """
            INSERT INTO cases (region, kind, quarantine_start, quarantine_end, language)
            VALUES ('xx-nowhere', 'index', '2026-11-20', '2026-11-30', 'en')
            """
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await fresh.fetch(
            """
            INSERT INTO cases (region, kind, quarantine_start, quarantine_end, language)
            VALUES ($1, 'neighbour', '2026-11-20', '2026-11-30', 'en')
            """,
            BERLIN,
        )
    # A diary answer stored twice is a correction (ON CONFLICT ... DO UPDATE).
    entry = await fresh.fetch(
        "SELECT prompt_id FROM diary_entries WHERE region = $1 AND case_id = $2", BERLIN, case_id
    )
    corrected = await fresh.fetch(
        """
        INSERT INTO diary_entries (region, case_id, prompt_id, local_date, feeling_well)
        VALUES ($1, $2, $3, '2026-11-26', true)
        ON CONFLICT (region, case_id, prompt_id) DO UPDATE SET feeling_well = excluded.feeling_well,
            corrected_at = now()
        RETURNING feeling_well, corrected_at IS NOT NULL AS corrected
        """,
        BERLIN,
        case_id,
        entry[0]["prompt_id"],
    )
    assert corrected[0]["feeling_well"] and corrected[0]["corrected"]

    # Migrations still run on the partitioned tables (every statement is IF NOT EXISTS).
    await fresh.fetch("DELETE FROM schema_migrations")
    assert len(await migrate(fresh)) == len(load_migrations())
    assert await _partitioned(fresh) == set(await _tables(fresh))


async def test_applying_twice_is_harmless(fresh: Database) -> None:
    await _populate(fresh, KYIV)
    assert await apply_postgresql_partitioning(fresh)
    before, schema = await _contents(fresh), await _schema(fresh)
    assert await apply_postgresql_partitioning(fresh) == []
    assert await add_region_partitions(fresh) == []
    assert await _contents(fresh) == before
    assert await _schema(fresh) == schema


async def test_a_region_added_later_gets_its_own_partition(fresh: Database) -> None:
    await _populate(fresh, BERLIN)
    await apply_postgresql_partitioning(fresh)
    schema = await _schema(fresh)
    async with fresh.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO regions (id, name, timezone, default_language)
            VALUES ($1, 'Kraków', 'Europe/Warsaw', 'pl')
            """,
            NEW,
        )
    new_cases = await _populate(fresh, NEW)  # lands in the DEFAULT partitions
    for table in await _tables(fresh):
        rows = await fresh.fetch(
            f"SELECT count(*) AS n FROM {default_partition_name(table)} WHERE region = $1", NEW
        )
        assert rows[0]["n"] > 0, table
    before = await _contents(fresh)

    done = await add_region_partitions(fresh)

    tables = await _tables(fresh)
    assert len(done) == len(tables) and all("rows moved from the DEFAULT" in d for d in done)
    assert await _contents(fresh) == before
    assert await _schema(fresh) == schema  # the foreign keys dropped for the move are back
    for table in tables:
        rows = await fresh.fetch(
            f"SELECT count(*) AS n FROM {default_partition_name(table)} WHERE region = $1", NEW
        )
        assert rows[0]["n"] == 0, table
        rows = await fresh.fetch(f"SELECT count(*) AS n FROM {partition_name(table, NEW)}")
        assert rows[0]["n"] > 0, table
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await fresh.fetch("DELETE FROM cases WHERE region = $1 AND id = $2", NEW, new_cases[0])
    assert await add_region_partitions(fresh) == []

    # A region added before any of its rows simply gets empty partitions.
    async with fresh.pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO regions (id, name, timezone, default_language)
            VALUES ('at-wien', 'Wien', 'Europe/Vienna', 'de')
            """
        )
    done = await add_region_partitions(fresh)
    assert done == [
        f"{t}: partition {partition_name(t, 'at-wien')} for region 'at-wien'" for t in tables
    ]


async def test_a_failed_table_is_left_as_it_was_and_a_second_run_finishes(
    fresh: Database,
) -> None:
    await _populate(fresh, BERLIN)
    async with fresh.pool.acquire() as conn:
        await conn.execute("CREATE POLICY everyone ON prompts USING (true)")
    before = await _contents(fresh)
    with pytest.raises(OverlayError, match="prompts has 1 policies"):
        await apply_postgresql_partitioning(fresh)
    assert await _partitioned(fresh) == {"cases", "activation_codes", "rounds"}
    assert await _contents(fresh) == before
    async with fresh.pool.acquire() as conn:
        await conn.execute("DROP POLICY everyone ON prompts")
    done = await apply_postgresql_partitioning(fresh)
    assert [line.split(":")[0] for line in done] == (await _tables(fresh))[3:]
    assert await _contents(fresh) == before


async def test_the_owner_and_grants_are_kept(fresh: Database) -> None:
    role = f"reader_{uuid.uuid4().hex[:8]}"
    async with fresh.pool.acquire() as conn:
        await conn.execute(f"CREATE ROLE {role}")
        await conn.execute(f"GRANT SELECT, INSERT ON outbox TO {role}")
    try:
        await apply_postgresql_partitioning(fresh)
        rows = await fresh.fetch(
            "SELECT has_table_privilege($1, 'outbox', 'INSERT') AS ok,"
            " has_table_privilege($1, 'outbox', 'DELETE') AS no",
            role,
        )
        assert rows[0]["ok"] and not rows[0]["no"]
    finally:
        async with fresh.pool.acquire() as conn:
            await conn.execute(f"DROP OWNED BY {role}")
            await conn.execute(f"DROP ROLE {role}")


async def test_the_overlay_needs_postgresql_and_a_migrated_database(server_url: str) -> None:
    other = Database()
    other.engine = "cockroachdb"
    with pytest.raises(OverlayError, match="not cockroachdb"):
        await apply_postgresql_partitioning(other)
    assert await add_region_partitions(other) == []  # safe to call at every start-up
    bare = await _fresh_database(server_url, regions=False)
    try:
        await bare.fetch("DROP TABLE escalations")
        with pytest.raises(OverlayError, match="escalations does not exist"):
            await apply_postgresql_partitioning(bare)
    finally:
        await bare.close()


def test_partition_names() -> None:
    assert partition_name("cases", "de-berlin-mitte") == "cases_de_berlin_mitte"
    assert default_partition_name("outbox") == "outbox__default"
    odd = partition_name("cases", "De Köln")
    assert odd.startswith("cases__de_k_ln_") and odd != partition_name("cases", "de-k-ln")
    long = partition_name("diary_entries", "x" * 80)
    assert len(long) <= 63 and long != partition_name("diary_entries", "x" * 81)


# --- the overlays for other engines: checked for consistency with the migrations -------------


def _migrated_tables() -> set[str]:
    tables = set()
    for migration in load_migrations():
        for statement in migration.statements:
            match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)
            if match:
                tables.add(match.group(1))
    return tables


def _region_keyed_tables() -> set[str]:
    """Tables whose primary key starts with region: the citizen data."""
    keyed = set()
    for migration in load_migrations():
        for statement in migration.statements:
            match = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)
            if match and re.search(r"PRIMARY KEY \(region,", statement):
                keyed.add(match.group(1))
    return keyed


def test_the_cockroachdb_overlay_places_every_table() -> None:
    sql = (ROOT / "sql/overlays/cockroachdb/multi_region.sql").read_text(encoding="utf-8")
    statements = split_statements(sql)
    by_row = {
        m.group(1)
        for s in statements
        if (m := re.match(r"ALTER TABLE (\w+) SET LOCALITY REGIONAL BY ROW AS crdb_region$", s))
    }
    computed = {
        m.group(1)
        for s in statements
        if (m := re.match(r"ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS crdb_region", s))
    }
    elsewhere = {
        m.group(1)
        for s in statements
        if (m := re.match(r"ALTER TABLE (\w+) SET LOCALITY (GLOBAL|REGIONAL BY TABLE)", s))
    }
    assert by_row == computed == _region_keyed_tables()
    assert by_row | elsewhere == _migrated_tables() | {"schema_migrations"}
    assert not by_row & elsewhere


def _yugabytedb_as_postgresql(sql: str) -> list[str]:
    """The YugabyteDB overlay with its YugabyteDB-only parts taken out: the psql guard,
    tablespaces and HASH/ASC key options. What is left is plain PostgreSQL."""
    sql = re.sub(r"-- BEGIN psql guard.*?-- END psql guard\n", "", sql, flags=re.S)
    statements = []
    for statement in split_statements(sql):
        if statement.startswith("CREATE TABLESPACE"):
            continue
        statement = re.sub(r"\s+TABLESPACE \w+", "", statement)
        statement = re.sub(r"\(\(([^()]*)\) HASH", r"(\1", statement)
        statement = re.sub(r"\s+(HASH|ASC)\b", "", statement)
        statements.append(statement)
    return statements


async def test_the_yugabytedb_overlay_rebuilds_the_migrated_tables(fresh: Database) -> None:
    """Run on PostgreSQL (without its YugabyteDB-only clauses), the overlay must produce the
    same columns, keys, checks, foreign keys and index names as the migrations, partitioned."""
    sql = (ROOT / "sql/overlays/yugabytedb/geo_partitioning.sql").read_text(encoding="utf-8")

    async def columns() -> dict[str, list[tuple]]:
        found = {}
        for table in await _tables(fresh):
            rows = await fresh.fetch(
                """
                SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull,
                       pg_get_expr(d.adbin, d.adrelid) AS default
                FROM pg_attribute a LEFT JOIN pg_attrdef d
                     ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
                ORDER BY attname
                """,
                table,
            )
            found[table] = [tuple(row.values()) for row in rows]
        return found

    def names(schema: dict[str, set[tuple[str, str]]]) -> dict[str, set[str]]:
        return {table: {name for name, _ in items} for table, items in schema.items()}

    expected_columns, expected_schema = await columns(), await _schema(fresh)
    async with fresh.pool.acquire() as conn:
        for statement in _yugabytedb_as_postgresql(sql):
            await conn.execute(statement)
    assert await columns() == expected_columns
    assert names(await _schema(fresh)) == names(expected_schema)
    assert await _partitioned(fresh) == set(await _tables(fresh))
    berlin = await _populate(fresh, BERLIN)
    await _populate(fresh, "de-koeln")
    await _populate(fresh, KYIV)
    # The unique indexes built ON ONLY the parent and attached per partition are valid and
    # serve as ON CONFLICT arbiters, the partial one included.
    message = Outgoing(
        chat_id=1,
        kind=Kind.REPLY,
        language="de",
        priority=Priority.INTERACTIVE,
        dedup_key="reply:y",
        region=BERLIN,
    )
    assert [await fresh.transaction(outbox.enqueue, [message]) for _ in range(2)] == [1, 0]
    finding = Finding(rule=Rule.TEMPERATURE, severity="urgent", weight=Decimal("3"))
    later = NOW + timedelta(minutes=5)
    _, new = await fresh.transaction(escalations.raise_alert, BERLIN, berlin[0], finding, later)
    assert not new
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await fresh.fetch("DELETE FROM cases WHERE region = $1 AND id = $2", BERLIN, berlin[0])
    for table in await _tables(fresh):
        rows = await fresh.fetch(f"SELECT count(*) AS n FROM {default_partition_name(table)}")
        assert rows[0]["n"] == 0, table  # every example region has its geography's partition


async def test_the_cli_applies_it_and_a_new_region_is_partitioned_when_read(
    server_url: str, repo_root: Path, tmp_path: Path
) -> None:
    """What an operator does: ``symptom-diary overlay`` once, then adds a region to the
    regions file; the running service's reload gives the region its partitions."""
    url = await create_database(server_url)
    await cli(repo_root, url, "migrate")
    db = await Database.connect(url)
    try:
        await _populate(db, BERLIN)
        output = await cli(repo_root, url, "overlay", "postgresql-partitioning")
        assert all(table in output for table in CITIZEN_TABLES)
        assert await _partitioned(db) == set(await _tables(db))
        again = await cli(repo_root, url, "overlay", "postgresql-partitioning")
        assert "Nothing to do" in again

        regions = tmp_path / "regions.toml"
        regions.write_text(
            DEFAULT_REGIONS_FILE.read_text()
            + f'\n[[regions]]\nid = "{NEW}"\nname = "Kraków"\ntimezone = "Europe/Warsaw"\n'
            'languages = ["pl"]\nprompt_times = ["09:00"]\n'
        )
        ctx = ServiceContext(
            db=db,
            regions=RegionDirectory(load_regions(DEFAULT_REGIONS_FILE)),
            clock=FixedClock(NOW),
            languages=("en", "pl"),
            outbox=Signal(),
        )
        assert await reload_regions(ctx, regions)
        for table in await _tables(db):
            names = {p.name for p in await partitions(db, table)}
            assert partition_name(table, NEW) in names, table
    finally:
        await db.close()
