"""Staff sign-in to the console: a password (argon2id) and a TOTP code, then a session.

1. ``sign_in`` checks login and password and opens a *pending* session: stage ``password``
   (the code comes next) or ``setup`` (a temporary password from an admin: choose one's own
   and enrol an authenticator first).
2. ``verify_code`` or ``complete_setup`` turn it into a ``signed_in`` session under a new
   cookie (the pending one ends: a cookie seen before signing in is worthless after).
3. ``current`` finds the session of a cookie on every request; it ends when idle for
   ``SessionPolicy.idle``, after ``lifetime`` at the latest, at sign-out, and everywhere at
   once with ``sign_out_everywhere``, a reset or offboarding.

Every password or code takes one of the account's attempts *before* it is checked, in one
conditional write (refused while locked, whichever instance answers); a wrong one keeps it,
several in a row lock the account for a while. argon2 runs in ``password_hashing``'s capped
executor. The per-address limit is the console's, per process.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.domain.errors import DomainError, Invalid, NotFound
from backend.domain.signin import (
    FAILED_SIGNINS_BEFORE_LOCK,
    LOCK_FOR,
    SAME_AS_TEMPORARY,
    TEMPORARY_FOR,
    TOTP_DIGITS,
    TOTP_ISSUER,
    TOTP_STEP_SECONDS,
    TOTP_WINDOW,
    SessionPolicy,
    login_problem,
    normal_code,
    normal_login,
    password_problem,
    temporary_password,
)
from backend.domain.staff import StaffMember, hash_token
from backend.services import password_hashing as hashing
from backend.services.context import ServiceContext
from backend.services.staff import create_staff, record
from backend.services.totp_secrets import SecretUnreadable, keys_of
from backend.storage import signin as store
from backend.storage import staff as staff_store
from backend.storage.signin import Credentials

log = logging.getLogger(__name__)

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) parameters


class SignInFailed(DomainError):
    """Wrong login, password or code (one answer for all: nothing tells which); or, to
    someone with the right password, a locked account or an expired temporary password."""

    def __init__(self, locked: bool = False, expired: bool = False):
        super().__init__("locked" if locked else "expired" if expired else "wrong")
        self.locked = locked
        self.expired = expired


@dataclass(frozen=True)
class ConsoleSession:
    id: UUID
    staff: StaffMember
    stage: str  # password, setup, signed_in
    login: str
    language: str | None
    token: str | None = None  # the cookie, only when the session was just opened


@functools.cache
def _decoy_hash() -> str:
    """Checked against for unknown logins, so that they take as long as known ones."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def _password_matches(password_hash: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await hashing.CAPACITY.run(check)  # ~50 ms of CPU, 64 MiB: capped


async def _hash(password: str) -> str:
    return await hashing.CAPACITY.run(lambda: _hasher.hash(password))


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)


def provisioning_uri(secret: str, login: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return _totp(secret).provisioning_uri(name=login, issuer_name=TOTP_ISSUER)


def code_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (within the window around ``now``), or None."""
    code = normal_code(code)
    if not (code.isascii() and code.isdigit()) or len(code) != TOTP_DIGITS:
        return None
    totp = _totp(secret)
    current = totp.timecode(now)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _secret(ctx: ServiceContext, credentials: Credentials) -> str | None:
    """The member's TOTP secret in clear (stored encrypted: backend/services/totp_secrets.py),
    None if none is enrolled. If no key of the key file opens it, the operator is told what
    to do and the member gets SignInFailed, not counted: the fault is the service's."""
    if credentials.totp_secret is None:
        return None
    try:
        return keys_of(ctx).open(credentials.totp_secret)
    except SecretUnreadable as error:
        log.error(
            "a staff member's TOTP secret cannot be decrypted with any key in %s "
            "(DIARY_TOTP_KEY_FILE): put back the key it was encrypted with, or reset the "
            "member's sign-in (symptom-diary staff sign-in)",
            error,
        )
        raise SignInFailed() from None


def _resealed(ctx: ServiceContext, credentials: Credentials, secret: str) -> str | None:
    """The secret encrypted with the current key, if it is stored otherwise (plain from
    before encryption, or under an older key): written when the code is accepted."""
    keys = keys_of(ctx)
    stored = credentials.totp_secret
    return None if stored is None or keys.is_current(stored) else keys.seal(secret)


# -- accounts -----------------------------------------------------------------------------


async def _store_credentials(
    ctx: ServiceContext, conn: asyncpg.Connection, staff_id: UUID, login: str, password_hash: str
) -> None:
    try:
        async with conn.transaction():  # a savepoint: the clash is reported, not retried
            await store.reset(conn, staff_id, login, password_hash, ctx.clock.now())
    except asyncpg.UniqueViolationError:
        raise Invalid("login", f"the login {login!r} is taken.") from None


async def _temporary(login: str) -> tuple[str, str, str]:
    """The login (checked), a temporary password and its hash."""
    login = normal_login(login)
    if problem := login_problem(login):
        raise Invalid("login", problem)
    password = temporary_password()
    return login, password, await _hash(password)


async def create_member(
    ctx: ServiceContext,
    name: str,
    role: str,
    regions: list[str],
    login: str,
    actor: StaffMember | None,
) -> tuple[UUID, str]:
    """A staff member who signs in to the console (no bearer token): their id and the
    temporary password, shown once. One transaction: no member without their sign-in."""
    login, password, password_hash = await _temporary(login)

    async def sign_in_for(conn: asyncpg.Connection, staff_id: UUID) -> None:
        await _store_credentials(ctx, conn, staff_id, login, password_hash)

    created = await create_staff(
        ctx, name, role, regions, token_days=None, actor=actor, also=sign_in_for
    )
    return created.staff_id, password


async def grant_sign_in(
    ctx: ServiceContext, staff_id: UUID, login: str, actor: StaffMember | None
) -> str:
    """Give a member a console login with a temporary password (returned, shown once), or
    reset theirs: a new temporary password, the authenticator to enrol again, every session
    ended. ``actor`` None: an operator at the command line."""
    login, password, password_hash = await _temporary(login)
    now = ctx.clock.now()

    async def store_it(conn: asyncpg.Connection) -> None:
        if await staff_store.get_member(conn, staff_id) is None:
            raise NotFound(f"staff member {staff_id} not found.")
        await _store_credentials(ctx, conn, staff_id, login, password_hash)
        await store.revoke_sessions_of(conn, staff_id, now)
        regions = await staff_store.assigned_regions(conn, staff_id)
        await record(conn, actor, "staff.signin_reset", regions, now, staff=str(staff_id))

    await ctx.db.transaction(store_it)
    return password


async def _open(
    conn: asyncpg.Connection,
    ctx: ServiceContext,
    policy: SessionPolicy,
    credentials: Credentials,
    stage: str,
    client: str | None,
) -> ConsoleSession:
    now = ctx.clock.now()
    token = secrets.token_urlsafe(32)
    lifetime = policy.lifetime if stage == "signed_in" else policy.pending
    session_id = await store.insert_session(
        conn, hash_token(token), credentials.staff_id, stage, now, now + lifetime, client
    )
    member = await staff_store.get_member(conn, credentials.staff_id)
    assert member is not None, "checked with the credentials"
    return ConsoleSession(
        session_id, member, stage, credentials.login, credentials.language, token=token
    )


async def _reserve(ctx: ServiceContext, credentials: Credentials) -> bool:
    """One of the account's attempts, taken before anything is checked (False: locked)."""
    return await ctx.db.transaction(
        store.reserve_attempt, credentials.staff_id, ctx.clock.now(), FAILED_SIGNINS_BEFORE_LOCK
    )


async def _failed(
    ctx: ServiceContext, credentials: Credentials, tell_lock: bool = True
) -> SignInFailed:
    """The reserved attempt was wrong; the answer to give. That it locked the account is said
    only after a code (``tell_lock``): whoever enters one gave the right password before."""
    now = ctx.clock.now()
    locked = await ctx.db.transaction(
        store.record_failure, credentials.staff_id, now, FAILED_SIGNINS_BEFORE_LOCK, LOCK_FOR
    )
    if locked:
        log.warning("console sign-in locked for a member after repeated failures")
    return SignInFailed(locked=locked and tell_lock)


async def sign_in(
    ctx: ServiceContext, policy: SessionPolicy, login: str, password: str, client: str | None
) -> ConsoleSession:
    """Step one: login and password. A pending session, or SignInFailed.

    The attempt is counted before the password is checked, and while the account is locked
    its password is not checked at all. Every answer takes one argon2 check all the same (of
    a decoy for an unknown login or a locked account) and a wrong login, a wrong password and
    a locked account get the same words: neither the time nor the answer tells a guesser that
    a login exists, is locked, or that a password was right. A right password gives its
    attempt back; the count is reset only by a complete sign-in, so wrong codes after a right
    password count too."""
    login = normal_login(login)
    found = None if login_problem(login) else await ctx.db.transaction(store.by_login, login)
    if found is None or not await _reserve(ctx, found):
        await _password_matches(_decoy_hash(), password)
        raise SignInFailed()
    if not await _password_matches(found.password_hash, password):
        raise await _failed(ctx, found, tell_lock=False)
    await ctx.db.transaction(store.refund_attempt, found.staff_id)
    now = ctx.clock.now()
    if found.password_temporary and found.password_set_at + TEMPORARY_FOR < now:
        raise SignInFailed(expired=True)
    stage = "setup" if found.password_temporary or not found.totp_confirmed else "password"
    return await ctx.db.transaction(_open, ctx, policy, found, stage, client)


async def _pending(
    ctx: ServiceContext, policy: SessionPolicy, token: str, stage: str
) -> tuple[ConsoleSession, Credentials]:
    session = await current(ctx, policy, token)
    if session is None or session.stage != stage:
        raise SignInFailed()
    credentials = await ctx.db.transaction(store.of_member, session.staff.id)
    if credentials is None:
        raise SignInFailed()
    if credentials.locked_until is not None and credentials.locked_until > ctx.clock.now():
        # Said only here: whoever holds a pending session gave the right password.
        raise SignInFailed(locked=True)
    return session, credentials


async def _signed_in(
    ctx: ServiceContext,
    policy: SessionPolicy,
    pending: ConsoleSession,
    credentials: Credentials,
    step: int,
    client: str | None,
    new_password_hash: str | None = None,
    resealed: str | None = None,
) -> ConsoleSession:
    """The code was right: take its step (once), end the pending session, open the real one;
    the secret stored anew if ``resealed`` (see ``_resealed``)."""
    now = ctx.clock.now()

    async def promote(conn: asyncpg.Connection) -> ConsoleSession | None:
        if not await store.accept_step(conn, credentials.staff_id, step):
            return None  # the code was used already
        if resealed is not None and credentials.totp_secret is not None:
            await store.replace_secret(
                conn, credentials.staff_id, credentials.totp_secret, resealed
            )
        if new_password_hash:
            await store.complete_setup(conn, credentials.staff_id, new_password_hash, now)
        await store.record_success(conn, credentials.staff_id)
        await store.revoke_session(conn, pending.id, now)
        session = await _open(conn, ctx, policy, credentials, "signed_in", client)
        await record(
            conn,
            session.staff,
            "console.sign_in",
            await staff_store.assigned_regions(conn, credentials.staff_id),
            now,
            session=str(session.id),
            **({"setup": True} if new_password_hash else {}),
        )
        return session

    session = await ctx.db.transaction(promote)
    if session is None:
        raise await _failed(ctx, credentials)
    return session


async def verify_code(
    ctx: ServiceContext, policy: SessionPolicy, token: str, code: str, client: str | None
) -> ConsoleSession:
    """Step two: the authenticator's code. A signed-in session (a new cookie)."""
    pending, credentials = await _pending(ctx, policy, token, "password")
    secret = _secret(ctx, credentials)
    if not await _reserve(ctx, credentials):
        raise SignInFailed(locked=True)  # the password was right: "locked" tells nothing new
    step = code_step(secret or "", code, ctx.clock.now())
    if step is None or not secret:
        raise await _failed(ctx, credentials)
    resealed = _resealed(ctx, credentials, secret)
    return await _signed_in(ctx, policy, pending, credentials, step, client, resealed=resealed)


async def enrolment(ctx: ServiceContext, policy: SessionPolicy, token: str) -> tuple[str, str]:
    """For the setup page: the authenticator's secret (made now, unless one is being
    enrolled already) and its otpauth:// URI for the QR code."""
    session, credentials = await _pending(ctx, policy, token, "setup")
    secret = None
    if credentials.totp_secret is not None:
        try:
            secret = keys_of(ctx).open(credentials.totp_secret)
        except SecretUnreadable:  # not confirmed yet: nothing is lost by enrolling anew
            log.warning(
                "a pending TOTP secret cannot be decrypted with the keys in "
                "DIARY_TOTP_KEY_FILE: a new one is enrolled"
            )
    if secret is None:
        secret = pyotp.random_base32()
        await ctx.db.transaction(
            store.set_pending_secret, session.staff.id, keys_of(ctx).seal(secret), ctx.clock.now()
        )
    return secret, provisioning_uri(secret, credentials.login)


async def complete_setup(
    ctx: ServiceContext,
    policy: SessionPolicy,
    token: str,
    new_password: str,
    code: str,
    client: str | None,
) -> ConsoleSession:
    """Step two of a first sign-in (or after a reset): one's own password and a code from
    the newly enrolled authenticator. Invalid names the field (its detail a message id of
    backend.domain.signin, to format with ``describe``); a wrong code SignInFailed."""
    session, credentials = await _pending(ctx, policy, token, "setup")
    if problem := password_problem(new_password, credentials.login):
        raise Invalid("new_password", problem)
    secret = _secret(ctx, credentials)
    if not await _reserve(ctx, credentials):
        raise SignInFailed(locked=True)
    if await _password_matches(credentials.password_hash, new_password):
        await ctx.db.transaction(store.refund_attempt, credentials.staff_id)
        raise Invalid("new_password", SAME_AS_TEMPORARY)
    step = code_step(secret or "", code, ctx.clock.now())
    if step is None or not secret:
        raise await _failed(ctx, credentials)
    new_hash = await _hash(new_password)
    resealed = _resealed(ctx, credentials, secret)
    return await _signed_in(
        ctx, policy, session, credentials, step, client, new_hash, resealed=resealed
    )


# -- sessions -----------------------------------------------------------------------------


async def current(
    ctx: ServiceContext, policy: SessionPolicy, token: str, touch: bool = True
) -> ConsoleSession | None:
    """The live session of a cookie, or None. Its last-seen time moves on (at most once a
    minute: a write per page would cost more than the idle timeout needs), unless ``touch``
    is False: what a page does by itself (live updates) does not keep an unattended browser
    signed in."""
    if not token or len(token) > 128:
        return None
    now = ctx.clock.now()

    async def find(conn: asyncpg.Connection) -> ConsoleSession | None:
        row = await store.live_session(conn, hash_token(token), now, policy.idle)
        if row is None:
            return None
        member = await staff_store.get_member(conn, row.staff_id)
        credentials = await store.of_member(conn, row.staff_id)
        if member is None or credentials is None:
            return None  # offboarded meanwhile
        if touch and (now - row.last_seen_at).total_seconds() >= 60:
            await store.touch_session(conn, row.id, now)
        return ConsoleSession(row.id, member, row.stage, credentials.login, credentials.language)

    return await ctx.db.transaction(find)


async def sign_out(ctx: ServiceContext, session: ConsoleSession) -> None:
    now = ctx.clock.now()

    async def end(conn: asyncpg.Connection) -> None:
        await store.revoke_session(conn, session.id, now)
        if session.stage == "signed_in":
            regions = await staff_store.assigned_regions(conn, session.staff.id)
            await record(
                conn, session.staff, "console.sign_out", regions, now, session=str(session.id)
            )

    await ctx.db.transaction(end)


async def sign_out_everywhere(ctx: ServiceContext, staff: StaffMember) -> int:
    """End every console session of the member (a lost laptop); how many ended."""
    now = ctx.clock.now()

    async def end(conn: asyncpg.Connection) -> int:
        ended = await store.revoke_sessions_of(conn, staff.id, now)
        regions = await staff_store.assigned_regions(conn, staff.id)
        await record(conn, staff, "console.sign_out_everywhere", regions, now, sessions=ended)
        return ended

    return await ctx.db.transaction(end)


async def remember_language(ctx: ServiceContext, staff_id: UUID, language: str) -> None:
    await ctx.db.transaction(store.set_language, staff_id, language)


async def logins(ctx: ServiceContext) -> dict[UUID, str]:
    return await ctx.db.transaction(store.logins)
