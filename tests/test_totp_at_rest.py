"""TOTP secrets at rest (issue 20, item 11): encrypted with the keys of a key file, so that a
copy of the database (a backup, a dump, a replica) does not give away every second factor.
Secrets written before are still read, and encrypted when next used or rotated; keys rotate
(a new one on top, ``symptom-diary totp rotate``, the old one removed); a bad key file stops
start-up with one sentence, and a key that does not fit fails sign-ins clearly, not the
service."""

from __future__ import annotations

import logging
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from cryptography.fernet import Fernet

from backend.config.settings import Settings, SettingsError
from backend.domain.clock import FixedClock
from backend.domain.signin import SessionPolicy
from backend.server import build_context
from backend.services import signin
from backend.services.context import ServiceContext
from backend.services.signin import SignInFailed
from backend.services.totp_secrets import (
    KEY_FILE_NAME,
    PREFIX,
    TotpKeys,
    load_keys,
    read_key_file,
    rotate,
)
from tests.test_cli import run  # the command as an operator runs it

POLICY = SessionPolicy()
PASSWORD = "correct horse battery staple"
STEP = timedelta(seconds=30)


def key_file(path: Path, *keys: bytes) -> Path:
    path.write_text("".join(f"{key.decode()}\n" for key in keys), encoding="utf-8")
    path.chmod(0o600)
    return path


async def stored(ctx: ServiceContext, login: str) -> str | None:
    """The column itself, as a copy of the database shows it."""

    async def read(conn):  # noqa: ANN001, ANN202
        rows = await conn.fetch("SELECT totp_secret FROM staff_credentials WHERE login = $1", login)
        return rows[0]["totp_secret"]

    return await ctx.db.transaction(read)


async def overwrite(ctx: ServiceContext, login: str, value: str) -> None:
    async def write(conn):  # noqa: ANN001, ANN202
        await conn.execute(
            "UPDATE staff_credentials SET totp_secret = $2 WHERE login = $1", login, value
        )

    await ctx.db.transaction(write)


async def enrol(ctx: ServiceContext, clock: FixedClock, login: str) -> str:
    """A member who set up password and authenticator; their secret (as the app holds it)."""
    _, temporary = await signin.create_member(ctx, login, "staff", ["de-koeln"], login, None)
    pending = await signin.sign_in(ctx, POLICY, login, temporary, None)
    assert pending.token is not None and pending.stage == "setup"
    secret, _ = await signin.enrolment(ctx, POLICY, pending.token)
    # Reloading the setup page shows the same secret: it is read back, not made again.
    assert (await signin.enrolment(ctx, POLICY, pending.token))[0] == secret
    code = pyotp.TOTP(secret).at(clock.now())
    await signin.complete_setup(ctx, POLICY, pending.token, PASSWORD, code, None)
    clock.advance(STEP)
    return secret


async def sign_in_with_code(
    ctx: ServiceContext, clock: FixedClock, login: str, secret: str
) -> signin.ConsoleSession:
    clock.advance(STEP)  # a new code each time: a code works once
    pending = await signin.sign_in(ctx, POLICY, login, PASSWORD, None)
    assert pending.token is not None and pending.stage == "password"
    code = pyotp.TOTP(secret).at(clock.now())
    return await signin.verify_code(ctx, POLICY, pending.token, code, None)


@pytest.fixture
def keyed(ctx: ServiceContext, tmp_path: Path) -> ServiceContext:
    """The test context with keys read from a key file, as the service has them."""
    return replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "k", Fernet.generate_key())))


async def test_the_database_never_holds_the_secret_in_clear(
    keyed: ServiceContext, clock: FixedClock
) -> None:
    secret = await enrol(keyed, clock, "rest.clear")
    value = await stored(keyed, "rest.clear")
    assert value is not None and value.startswith(PREFIX)
    assert secret not in value and secret.lower() not in value
    session = await sign_in_with_code(keyed, clock, "rest.clear", secret)
    assert session.stage == "signed_in"
    assert await stored(keyed, "rest.clear") == value  # nothing to upgrade


async def test_a_pending_secret_is_encrypted_too(keyed: ServiceContext) -> None:
    _, temporary = await signin.create_member(
        keyed, "rest.pending", "staff", ["de-koeln"], "rest.pending", None
    )
    pending = await signin.sign_in(keyed, POLICY, "rest.pending", temporary, None)
    assert pending.token is not None
    secret, uri = await signin.enrolment(keyed, POLICY, pending.token)
    assert secret in uri  # the QR code still carries it, once, to the member's browser
    value = await stored(keyed, "rest.pending")
    assert value is not None and value.startswith(PREFIX) and secret not in value


async def test_a_plain_secret_from_before_still_works_and_is_encrypted_on_use(
    keyed: ServiceContext, clock: FixedClock
) -> None:
    await enrol(keyed, clock, "rest.legacy")
    legacy = pyotp.random_base32()
    await overwrite(keyed, "rest.legacy", legacy)  # as written before this change
    session = await sign_in_with_code(keyed, clock, "rest.legacy", legacy)
    assert session.stage == "signed_in"
    value = await stored(keyed, "rest.legacy")
    assert value is not None and value.startswith(PREFIX) and legacy not in value
    assert keyed.totp_keys is not None and keyed.totp_keys.open(value) == legacy
    assert (await sign_in_with_code(keyed, clock, "rest.legacy", legacy)).stage == "signed_in"


async def test_rotation_re_encrypts_with_the_new_key_and_the_old_one_can_go(
    ctx: ServiceContext, clock: FixedClock, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "old", old)))
    secret = await enrol(before, clock, "rest.rotate")
    legacy = pyotp.random_base32()
    await enrol(before, clock, "rest.rotate.legacy")
    await overwrite(before, "rest.rotate.legacy", legacy)

    # 1. The new key on top, the old one below it: both read, the new one writes.
    both = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "both", new, old)))
    # 2. Every stored secret re-encrypted with the new key (plain ones encrypted).
    done = await rotate(both)  # (members of other tests, under other keys, stay unreadable)
    assert not {"rest.rotate", "rest.rotate.legacy"} & set(done.unreadable)
    assert done.resealed >= 2
    for login in ("rest.rotate", "rest.rotate.legacy"):
        value = await stored(ctx, login)
        assert value is not None and value.startswith(PREFIX)
        Fernet(new).decrypt(value.removeprefix(PREFIX).encode())  # no InvalidToken
    again = await rotate(both)
    assert again.resealed == 0 and again.current >= 2  # nothing left to do

    # 3. The old key removed: every member still signs in.
    after = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "new", new)))
    assert (await sign_in_with_code(after, clock, "rest.rotate", secret)).stage == "signed_in"
    assert (await sign_in_with_code(after, clock, "rest.rotate.legacy", legacy)).stage == (
        "signed_in"
    )


async def test_a_key_that_does_not_fit_fails_sign_in_clearly_not_the_service(
    ctx: ServiceContext, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    right = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "r", Fernet.generate_key())))
    secret = await enrol(right, clock, "rest.wrongkey")
    wrong = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "w", Fernet.generate_key())))
    with caplog.at_level(logging.ERROR), pytest.raises(SignInFailed) as failed:
        await sign_in_with_code(wrong, clock, "rest.wrongkey", secret)
    assert not failed.value.locked
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all("DIARY_TOTP_KEY_FILE" in e and secret not in e for e in errors)
    # Not counted against the member: the right key back, and they sign in.
    credentials = await ctx.db.transaction(signin.store.by_login, "rest.wrongkey")
    assert credentials is not None and credentials.failed_signins == 0
    # Rotating with the wrong key changes nothing and names who cannot be read.
    value = await stored(ctx, "rest.wrongkey")
    done = await rotate(wrong)
    assert "rest.wrongkey" in done.unreadable and await stored(ctx, "rest.wrongkey") == value
    assert (await sign_in_with_code(right, clock, "rest.wrongkey", secret)).stage == "signed_in"


async def test_an_unreadable_pending_secret_is_replaced_by_a_new_one(
    ctx: ServiceContext, tmp_path: Path
) -> None:
    """Enrolment not finished when the key changed: the setup page shows a fresh secret."""
    first = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "a", Fernet.generate_key())))
    _, temporary = await signin.create_member(
        first, "rest.repending", "staff", ["de-koeln"], "rest.repending", None
    )
    pending = await signin.sign_in(first, POLICY, "rest.repending", temporary, None)
    assert pending.token is not None
    old, _ = await signin.enrolment(first, POLICY, pending.token)
    other = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "b", Fernet.generate_key())))
    new, _ = await signin.enrolment(other, POLICY, pending.token)
    assert new != old
    assert other.totp_keys is not None
    assert other.totp_keys.open(await stored(ctx, "rest.repending") or "") == new


# -- the key file ---------------------------------------------------------------------------


def test_a_key_file_holds_keys_one_a_line_the_first_encrypts(tmp_path: Path) -> None:
    first, second = Fernet.generate_key(), Fernet.generate_key()
    path = tmp_path / "keys"
    path.write_text(
        f"# added 2026-11-26\n{first.decode()}\n\n  {second.decode()}  \n", encoding="utf-8"
    )
    keys = read_key_file(path)
    sealed = keys.seal("JBSWY3DPEHPK3PXP")
    Fernet(first).decrypt(sealed.removeprefix(PREFIX).encode())
    older = TotpKeys([second])
    assert keys.open(older.seal("JBSWY3DPEHPK3PXP")) == "JBSWY3DPEHPK3PXP"
    assert keys.is_current(sealed) and not keys.is_current(older.seal("X"))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot be read"),
        ("", "holds no key"),
        ("# only a comment\n\n", "holds no key"),
        ("not-a-fernet-key-at-all\n", "line 1"),
        (f"{Fernet.generate_key().decode()}\nAAAA{Fernet.generate_key().decode()}\n", "line 2"),
    ],
)
def test_a_bad_key_file_stops_start_up_with_one_sentence(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "keys"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        read_key_file(path)
    message = str(refused.value)
    assert message.startswith("DIARY_TOTP_KEY_FILE ") and says in message, message
    assert "\n" not in message
    if content:
        assert all(line not in message for line in content.splitlines() if len(line) > 8)


def test_without_the_setting_a_key_file_is_made_once_in_the_data_directory(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.from_env({"DIARY_DATA_DIR": str(tmp_path / "data")})
    with caplog.at_level(logging.INFO):
        keys = load_keys(settings)
        again = load_keys(settings)
    made = tmp_path / "data" / KEY_FILE_NAME
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    key = made.read_text(encoding="utf-8").strip()
    Fernet(key.encode())
    said = [r.getMessage() for r in caplog.records if KEY_FILE_NAME in r.getMessage()]
    assert len(said) == 1 and key not in said[0]
    assert again.open(keys.seal("JBSWY3DPEHPK3PXP")) == "JBSWY3DPEHPK3PXP"
    # The composition root gives it to every use case.
    ctx = build_context(Settings.from_env({"DIARY_DATA_DIR": str(tmp_path / "data")}))
    assert ctx.totp_keys is not None
    assert ctx.totp_keys.open(keys.seal("JBSWY3DPEHPK3PXP")) == "JBSWY3DPEHPK3PXP"


def test_the_setting_names_the_key_file(tmp_path: Path) -> None:
    path = key_file(tmp_path / "keys", Fernet.generate_key())
    settings = Settings.from_env({"DIARY_TOTP_KEY_FILE": str(path), "DIARY_DATA_DIR": "/proc"})
    assert settings.totp_key_file == path
    load_keys(settings)  # nothing made in the data directory
    assert not (Path("/proc") / KEY_FILE_NAME).exists()


# -- the command ----------------------------------------------------------------------------


async def test_the_rotate_command_and_a_bad_key_file_at_the_command_line(
    repo_root: Path, database_url: str, ctx: ServiceContext, clock: FixedClock, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = replace(ctx, totp_keys=read_key_file(key_file(tmp_path / "old", old)))
    await enrol(before, clock, "rest.command")

    async def forget_the_others(conn):  # noqa: ANN001, ANN202 - under other tests' keys
        await conn.execute(
            "UPDATE staff_credentials SET totp_secret = NULL WHERE login <> 'rest.command'"
        )

    await ctx.db.transaction(forget_the_others)
    both = key_file(tmp_path / "both", new, old)
    env = {"DIARY_DATABASE_URL": database_url, "DIARY_TOTP_KEY_FILE": str(both)}
    code, out, err = await run(repo_root, env, "totp", "rotate")
    assert code == 0, err
    assert "re-encrypted" in out and "remove the old keys" in out
    value = await stored(ctx, "rest.command")
    assert value is not None
    Fernet(new).decrypt(value.removeprefix(PREFIX).encode())
    # A wrong key: the command says who cannot be read, keeps the rows, and fails.
    wrong = key_file(tmp_path / "wrong", Fernet.generate_key())
    code, out, err = await run(
        repo_root, env | {"DIARY_TOTP_KEY_FILE": str(wrong)}, "totp", "rotate"
    )
    assert code == 2 and "rest.command" in err and "DIARY_TOTP_KEY_FILE" in err, err
    assert await stored(ctx, "rest.command") == value
    # A key file without a valid key: the service does not start, in one sentence.
    (tmp_path / "garbage").write_text("garbage\n", encoding="utf-8")
    code, _, err = await run(
        repo_root,
        env | {"DIARY_TOTP_KEY_FILE": str(tmp_path / "garbage"), "DIARY_HTTP_PORT": "0"},
        "serve",
    )
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("symptom-diary: DIARY_TOTP_KEY_FILE "), err
