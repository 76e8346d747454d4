"""TOTP secrets at rest: encrypted with Fernet keys from a key file (issue 20, item 11).

Whoever holds a copy of the database (a backup, a dump given to support, a replica) would
otherwise hold every staff member's second factor. The keys live outside the database, in
the file DIARY_TOTP_KEY_FILE names: one Fernet key a line, the first encrypts, all decrypt
(``MultiFernet``), so a key is rotated by putting a new one on top, running
``symptom-diary totp rotate`` and then removing the old one.

Without the setting (``make run``, the tests, the embedded trial) the service makes a key
file in its data directory once, mode 0600, beside the embedded database.

A stored value is ``fernet:<token>``; anything else is a secret written in plain base32
before this existed: still read, encrypted when it is next used to sign in (and by
``rotate``). Fernet (AES-128-CBC and HMAC-SHA256) is the ``cryptography`` package's
recipe for exactly this: small values, a key in a file, rotation built in.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from backend.config.settings import Settings, SettingsError
from backend.storage import signin as store

if TYPE_CHECKING:
    from backend.services.context import ServiceContext

log = logging.getLogger(__name__)

PREFIX = "fernet:"
KEY_FILE_NAME = "totp-keys"  # in DIARY_DATA_DIR when DIARY_TOTP_KEY_FILE is not set
SETTING = "DIARY_TOTP_KEY_FILE"


class SecretUnreadable(Exception):
    """A stored secret that no key of the file decrypts: the file lacks the key it was
    encrypted with (a wrong, replaced or lost key file). Never carries the value."""


class TotpKeys:
    """Seals and opens TOTP secrets with the keys of one key file."""

    def __init__(self, keys: Sequence[bytes], source: str = "memory"):
        if not keys:
            raise ValueError("at least one key")
        self._first = Fernet(keys[0])
        self._all = MultiFernet([Fernet(key) for key in keys])
        self.source = source  # named in errors: which file lacks the key

    @classmethod
    def generate(cls) -> TotpKeys:
        """One fresh key held only in memory (tests that do not care about the file)."""
        return cls([Fernet.generate_key()])

    def seal(self, secret: str) -> str:
        return PREFIX + self._first.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret; a plain value from before encryption is returned as it is. Raises
        SecretUnreadable if no key decrypts it."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._all.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(self.source) from None

    def is_current(self, stored: str) -> bool:
        """Encrypted with the first key: nothing for ``rotate`` or a sign-in to do."""
        if not stored.startswith(PREFIX):
            return False
        try:
            self._first.decrypt(stored.removeprefix(PREFIX).encode())
        except InvalidToken:
            return False
        return True


def read_key_file(path: Path) -> TotpKeys:
    """The keys of a key file: one a line, blank lines and ``#`` comments ignored. Any line
    that is not a key stops start-up (a mistyped new key must not be dropped silently); the
    message names the line, never its content."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise SettingsError(f"{SETTING} {path} cannot be read ({reason}).") from None
    keys: list[bytes] = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            Fernet(line.encode())
        except ValueError:
            raise SettingsError(
                f"{SETTING} {path}: line {number} is not a Fernet key (32 bytes in url-safe "
                "base64, as `symptom-diary totp new-key` prints)."
            ) from None
        keys.append(line.encode())
    if not keys:
        raise SettingsError(f"{SETTING} {path} holds no key; put one Fernet key on each line.")
    if path.stat().st_mode & 0o004:
        log.warning("%s %s can be read by every account on this machine", SETTING, path)
    return TotpKeys(keys, source=str(path))


def load_keys(settings: Settings) -> TotpKeys:
    """The service's keys: DIARY_TOTP_KEY_FILE, else the data directory's key file (made on
    the first start)."""
    if settings.totp_key_file is not None:
        return read_key_file(settings.totp_key_file)
    path = settings.data_dir / KEY_FILE_NAME
    if not path.exists():
        _make_key_file(settings.data_dir, path, settings.embedded_database)
    return read_key_file(path)


def _make_key_file(directory: Path, path: Path, embedded: bool) -> None:
    """Written whole to a temporary file, then linked into place: of several processes
    starting at once (``serve`` beside ``migrate``, test runs side by side) exactly one key
    wins, and nobody reads a half-written file."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".totp-keys-")  # 0600
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(Fernet.generate_key().decode() + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.link(temporary, path)
        except FileExistsError:
            return  # another process made it first: theirs is the key
        finally:
            os.unlink(temporary)
    except OSError as error:
        raise SettingsError(
            f"DIARY_DATA_DIR {directory} cannot hold the TOTP key file "
            f"({error.strerror or type(error).__name__}); choose a writable directory, or "
            f"set {SETTING}."
        ) from None
    if embedded:
        log.info("made a key for TOTP secrets at %s (%s is not set)", path, SETTING)
    else:
        log.warning(
            "made a key for TOTP secrets at %s (%s is not set): every instance sharing the "
            "database needs this same file; set %s to it",
            path,
            SETTING,
            SETTING,
        )


# -- rotation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rotation:
    resealed: int = 0  # encrypted anew with the first key (from an older key or plain)
    current: int = 0  # already under the first key
    unreadable: list[str] = field(default_factory=list)  # logins no key decrypts


async def rotate(ctx: ServiceContext) -> Rotation:
    """Encrypt every stored secret with the first key, so the older keys can be removed.

    Row by row, each a conditional write on the value read: a member who enrols meanwhile
    keeps the new secret (written with the first key by an instance that has it). A value no
    key decrypts is left as it is and named: its key must not be removed yet, or the member's
    sign-in reset (``staff sign-in``)."""
    keys = keys_of(ctx)
    resealed = current = 0
    unreadable: list[str] = []
    for staff_id, login, value in await ctx.db.transaction(store.stored_secrets):
        if keys.is_current(value):
            current += 1
            continue
        try:
            secret = keys.open(value)
        except SecretUnreadable:
            unreadable.append(login)
            continue
        if await ctx.db.transaction(store.replace_secret, staff_id, value, keys.seal(secret)):
            resealed += 1
    return Rotation(resealed, current, sorted(unreadable))


def keys_of(ctx: ServiceContext) -> TotpKeys:
    if ctx.totp_keys is None:  # a composition root that forgot them: a bug, not a setting
        raise RuntimeError("the ServiceContext was built without TOTP keys")
    return ctx.totp_keys
