"""Console sign-in: staff credentials (argon2 hashes, TOTP secrets) and browser sessions.

Every moment here is the service clock's, passed in as ``now`` (staff matters: see
backend/domain/clock.py); nothing compares with the database's ``now()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg


@dataclass(frozen=True)
class Credentials:
    staff_id: UUID
    login: str
    password_hash: str
    password_temporary: bool
    totp_secret: str | None  # as stored: encrypted (backend/services/totp_secrets.py)
    totp_confirmed: bool
    failed_signins: int
    locked_until: datetime | None
    language: str | None
    password_set_at: datetime


_CREDENTIALS = """
    c.staff_id, c.login, c.password_hash, c.password_temporary, c.totp_secret,
    c.totp_confirmed_at IS NOT NULL AS totp_confirmed, c.failed_signins, c.locked_until,
    c.language, c.password_set_at
"""


def _credentials(row: asyncpg.Record) -> Credentials:
    return Credentials(
        staff_id=row["staff_id"],
        login=row["login"],
        password_hash=row["password_hash"],
        password_temporary=row["password_temporary"],
        totp_secret=row["totp_secret"],
        totp_confirmed=row["totp_confirmed"],
        failed_signins=row["failed_signins"],
        locked_until=row["locked_until"],
        language=row["language"],
        password_set_at=row["password_set_at"],
    )


async def by_login(conn: asyncpg.Connection, login: str) -> Credentials | None:
    """The credentials of an active member, or None."""
    rows = await conn.fetch(
        f"""
        SELECT {_CREDENTIALS} FROM staff_credentials c
        JOIN staff_members m ON m.id = c.staff_id
        WHERE c.login = $1 AND m.disabled_at IS NULL
        """,
        login,
    )
    return _credentials(rows[0]) if rows else None


async def of_member(conn: asyncpg.Connection, staff_id: UUID) -> Credentials | None:
    rows = await conn.fetch(
        f"SELECT {_CREDENTIALS} FROM staff_credentials c WHERE c.staff_id = $1", staff_id
    )
    return _credentials(rows[0]) if rows else None


async def logins(conn: asyncpg.Connection) -> dict[UUID, str]:
    """Every member's login (for the admin pages)."""
    rows = await conn.fetch("SELECT staff_id, login FROM staff_credentials")
    return {row["staff_id"]: row["login"] for row in rows}


async def reset(
    conn: asyncpg.Connection, staff_id: UUID, login: str, password_hash: str, now: datetime
) -> None:
    """A temporary password, no authenticator, no lock: the member sets up again. Raises
    UniqueViolationError if another member has the login."""
    await conn.execute(
        """
        INSERT INTO staff_credentials (staff_id, login, password_hash, password_temporary,
                                       password_set_at, updated_at)
        VALUES ($1, $2, $3, TRUE, $4, $4)
        ON CONFLICT (staff_id) DO UPDATE SET
            login = excluded.login, password_hash = excluded.password_hash,
            password_temporary = TRUE, password_set_at = excluded.password_set_at,
            totp_secret = NULL, totp_confirmed_at = NULL, totp_last_step = NULL,
            failed_signins = 0, locked_until = NULL, updated_at = excluded.updated_at
        """,
        staff_id,
        login,
        password_hash,
        now,
    )


async def reserve_attempt(
    conn: asyncpg.Connection, staff_id: UUID, now: datetime, lock_after: int
) -> bool:
    """Take one of the account's attempts *before* a password or code is checked, in one
    conditional write: refused (False) while the account is locked or ``lock_after``
    attempts are already counted, in flight or failed. Counting after the check let 200
    codes sent at once all be checked while each saw the count from before (issue 20)."""
    rows = await conn.fetch(
        """
        UPDATE staff_credentials SET failed_signins = failed_signins + 1, updated_at = $2
        WHERE staff_id = $1 AND failed_signins < $3
          AND (locked_until IS NULL OR locked_until <= $2)
        RETURNING staff_id
        """,
        staff_id,
        now,
        lock_after,
    )
    return bool(rows)


async def record_failure(
    conn: asyncpg.Connection, staff_id: UUID, now: datetime, lock_after: int, lock_for: timedelta
) -> bool:
    """A reserved attempt was wrong: it stays counted, and once ``lock_after`` are counted the
    account is locked for ``lock_for`` (the count starts again after). True if this failure
    locked it."""
    rows = await conn.fetch(
        """
        UPDATE staff_credentials SET
            locked_until = CASE WHEN failed_signins >= $3 THEN $2::TIMESTAMPTZ + $4::INTERVAL
                                ELSE locked_until END,
            failed_signins = CASE WHEN failed_signins >= $3 THEN 0 ELSE failed_signins END,
            updated_at = $2
        WHERE staff_id = $1
        RETURNING locked_until
        """,
        staff_id,
        now,
        lock_after,
        lock_for,
    )
    return bool(rows) and rows[0]["locked_until"] is not None and rows[0]["locked_until"] > now


async def refund_attempt(conn: asyncpg.Connection, staff_id: UUID) -> None:
    """A reserved attempt was right (a password, whose code comes next): it does not count."""
    await conn.execute(
        "UPDATE staff_credentials SET failed_signins = GREATEST(failed_signins - 1, 0) "
        "WHERE staff_id = $1",
        staff_id,
    )


async def record_success(conn: asyncpg.Connection, staff_id: UUID) -> None:
    await conn.execute(
        "UPDATE staff_credentials SET failed_signins = 0 WHERE staff_id = $1 "
        "AND failed_signins <> 0",
        staff_id,
    )


async def set_pending_secret(
    conn: asyncpg.Connection, staff_id: UUID, secret: str, now: datetime
) -> None:
    """An authenticator being enrolled: its secret (encrypted by the caller, see
    backend/services/totp_secrets.py), not confirmed yet."""
    await conn.execute(
        """
        UPDATE staff_credentials SET totp_secret = $2, totp_confirmed_at = NULL, updated_at = $3
        WHERE staff_id = $1
        """,
        staff_id,
        secret,
        now,
    )


async def stored_secrets(conn: asyncpg.Connection) -> list[tuple[UUID, str, str]]:
    """Every stored TOTP secret as stored (encrypted, or plain from before): staff id, login,
    value. For key rotation, which re-encrypts them; a few hundred staff at most."""
    rows = await conn.fetch(
        "SELECT staff_id, login, totp_secret FROM staff_credentials WHERE totp_secret IS NOT NULL"
    )
    return [(row["staff_id"], row["login"], row["totp_secret"]) for row in rows]


async def replace_secret(conn: asyncpg.Connection, staff_id: UUID, old: str, new: str) -> bool:
    """The same secret stored anew (another key, or encrypted at last), only if the value is
    still ``old``: a member who enrolled meanwhile keeps the new secret."""
    rows = await conn.fetch(
        """
        UPDATE staff_credentials SET totp_secret = $3
        WHERE staff_id = $1 AND totp_secret = $2
        RETURNING staff_id
        """,
        staff_id,
        old,
        new,
    )
    return bool(rows)


async def accept_step(conn: asyncpg.Connection, staff_id: UUID, step: int) -> bool:
    """Take a code's time step if it is later than every accepted one: a code works once,
    even when two requests bring it at the same moment (a conditional write)."""
    rows = await conn.fetch(
        """
        UPDATE staff_credentials SET totp_last_step = $2
        WHERE staff_id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)
        RETURNING staff_id
        """,
        staff_id,
        step,
    )
    return bool(rows)


async def complete_setup(
    conn: asyncpg.Connection, staff_id: UUID, password_hash: str, now: datetime
) -> None:
    """The member's own password, and the enrolled authenticator confirmed."""
    await conn.execute(
        """
        UPDATE staff_credentials SET password_hash = $2, password_temporary = FALSE,
               password_set_at = $3, totp_confirmed_at = $3, updated_at = $3
        WHERE staff_id = $1
        """,
        staff_id,
        password_hash,
        now,
    )


async def set_language(conn: asyncpg.Connection, staff_id: UUID, language: str) -> None:
    await conn.execute(
        "UPDATE staff_credentials SET language = $2 WHERE staff_id = $1", staff_id, language
    )


# -- sessions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: UUID
    staff_id: UUID
    stage: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


async def insert_session(
    conn: asyncpg.Connection,
    token_hash: str,
    staff_id: UUID,
    stage: str,
    now: datetime,
    expires_at: datetime,
    client: str | None,
) -> UUID:
    rows = await conn.fetch(
        """
        INSERT INTO console_sessions (token_hash, staff_id, stage, created_at, last_seen_at,
                                      expires_at, client)
        VALUES ($1, $2, $3, $4, $4, $5, $6)
        RETURNING id
        """,
        token_hash,
        staff_id,
        stage,
        now,
        expires_at,
        client,
    )
    return rows[0]["id"]


async def live_session(
    conn: asyncpg.Connection, token_hash: str, now: datetime, idle: timedelta
) -> SessionRow | None:
    """The session of a cookie, if it is neither revoked, nor past its lifetime, nor idle for
    longer than ``idle``."""
    rows = await conn.fetch(
        """
        SELECT id, staff_id, stage, created_at, last_seen_at, expires_at
        FROM console_sessions
        WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2
          AND last_seen_at > $2::TIMESTAMPTZ - $3::INTERVAL
        """,
        token_hash,
        now,
        idle,
    )
    if not rows:
        return None
    row = rows[0]
    return SessionRow(
        row["id"],
        row["staff_id"],
        row["stage"],
        row["created_at"],
        row["last_seen_at"],
        row["expires_at"],
    )


async def touch_session(conn: asyncpg.Connection, session_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE console_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2",
        session_id,
        now,
    )


async def revoke_session(conn: asyncpg.Connection, session_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE console_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        session_id,
        now,
    )


async def revoke_sessions_of(conn: asyncpg.Connection, staff_id: UUID, now: datetime) -> int:
    """Sign a member out everywhere; how many sessions ended."""
    status = await conn.execute(
        "UPDATE console_sessions SET revoked_at = $2 WHERE staff_id = $1 AND revoked_at IS NULL",
        staff_id,
        now,
    )
    return int(status.split()[-1])


async def purge_sessions(conn: asyncpg.Connection, ended_before: datetime, limit: int) -> int:
    """Forget sessions that ended (by lifetime) before ``ended_before``, ``limit`` at a time."""
    status = await conn.execute(
        """
        DELETE FROM console_sessions WHERE id IN (
            SELECT id FROM console_sessions WHERE expires_at < $1 LIMIT $2
        )
        """,
        ended_before,
        limit,
    )
    return int(status.split()[-1])
