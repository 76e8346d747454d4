"""The ``symptom-diary`` command as an operator runs it, in a subprocess."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest


async def run(repo_root: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIARY_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        *args,
        cwd=repo_root,
        env=clean | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode, out.decode(), err.decode()


async def test_a_bad_setting_stops_with_one_sentence(repo_root: Path) -> None:
    code, out, err = await run(repo_root, {"DIARY_HTTP_PORT": "http"}, "serve")
    assert code == 2 and out == ""
    assert (
        err.strip()
        == "symptom-diary: DIARY_HTTP_PORT must be a port number from 0 to 65535, not 'http'."
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DIARY_DATA_DIR": "/proc/no-database-here"}, "DIARY_DATA_DIR"),
        ({"DIARY_HTTP_HOST": "203.0.113.250"}, "DIARY_HTTP_HOST"),  # not this machine's
    ],
)
async def test_a_setting_found_bad_at_start_up_stops_with_one_sentence(
    repo_root: Path, tmp_path: Path, database_url: str, env: dict[str, str], named: str
) -> None:
    """Problems only start-up can find (a directory, an address) are one sentence too."""
    base = {"DIARY_DATA_DIR": str(tmp_path), "DIARY_HTTP_PORT": "0"}
    if named != "DIARY_DATA_DIR":
        base["DIARY_DATABASE_URL"] = database_url  # no embedded server needed
    code, _, err = await run(repo_root, base | env, "serve")
    lines = err.strip().splitlines()
    assert code == 2, err
    assert lines[-1].startswith(f"symptom-diary: {named} ") and "Traceback" not in err, err


async def test_migrate_then_staff_create(repo_root: Path, empty_database_url: str) -> None:
    env = {"DIARY_DATABASE_URL": empty_database_url}
    code, _, err = await run(repo_root, env, "staff", "create", "--name", "X", "--role", "admin")
    assert code == 2 and "run `symptom-diary migrate` first" in err
    code, out, err = await run(repo_root, env, "migrate")
    assert code == 0, err
    assert "up to date" in out
    code, out, err = await run(repo_root, env, "staff", "create", "--name", "X", "--role", "staff")
    assert code == 2 and "needs at least one --region" in err
    code, out, err = await run(
        repo_root, env, "staff", "create", "--name", "X", "--role", "staff", "--region", "mars"
    )
    assert code == 2 and "unknown region 'mars'" in err
    code, out, err = await run(
        repo_root, env, "staff", "create", "--name", "Y", "--role", "viewer", "--region", "de-koeln"
    )
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("sd_") and len(token) > 40
    # Nothing secret or personal in what the command logged.
    assert token not in err and "Y" not in err.replace("INFO", "").replace("KEY", "")


async def test_an_operator_lists_the_parked_updates(repo_root: Path, database_url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO failed_updates (update_key, attempts, error, parked_at) "
            "VALUES ('424242:cafe', 5, 'InternalServerError', now()), "
            "('515151:beef', 2, 'SerializationError', NULL)"
        )
    finally:
        await conn.close()
    env = {"DIARY_DATABASE_URL": database_url}
    code, out, err = await run(repo_root, env, "updates", "parked")
    assert code == 0, err
    assert "424242" in out and "InternalServerError" in out and "515151" not in out
    assert "cafe" not in out  # the content's hash stays in the database
    code, out, err = await run(repo_root, env, "updates", "failed")
    assert code == 0, err
    assert "424242" in out and "515151" in out
