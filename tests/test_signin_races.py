"""Sign-in under concurrency (issue 20): an attempt is counted before its password or code is
checked, so a burst sent at once gets no more checks than the lock allows; a locked account's
password is not checked at all and the answer is the same as for a wrong one; argon2 runs at
most a few at a time, and a flood of sign-ins is told to come back instead of queueing."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pyotp
import pytest

from backend.domain.clock import FixedClock
from backend.domain.signin import FAILED_SIGNINS_BEFORE_LOCK, SessionPolicy
from backend.services import password_hashing, signin
from backend.services.context import ServiceContext
from backend.services.password_hashing import HashingBusy, HashingCapacity
from backend.services.signin import SignInFailed

POLICY = SessionPolicy()
PASSWORD = "correct horse battery staple"
STEP = timedelta(seconds=30)  # an authenticator code's time step


async def enrolled(ctx: ServiceContext, clock: FixedClock, login: str) -> pyotp.TOTP:
    """A member who has set up their password and authenticator, as on their first day."""
    _, temporary = await signin.create_member(ctx, login, "staff", ["de-koeln"], login, None)
    pending = await signin.sign_in(ctx, POLICY, login, temporary, None)
    assert pending.token is not None and pending.stage == "setup"
    secret, _ = await signin.enrolment(ctx, POLICY, pending.token)
    totp = pyotp.TOTP(secret)
    await signin.complete_setup(ctx, POLICY, pending.token, PASSWORD, totp.at(clock.now()), None)
    clock.advance(STEP)  # the next code is a new one
    return totp


def wrong(totp: pyotp.TOTP, clock: FixedClock) -> str:
    right = {totp.at(clock.now() + offset * STEP) for offset in (-1, 0, 1)}
    return next(c for c in (f"{n:06d}" for n in range(1000000)) if c not in right)


async def test_200_wrong_codes_at_once_get_five_checks_then_the_right_one_is_refused(
    ctx: ServiceContext, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    totp = await enrolled(ctx, clock, "racer.codes")
    pending = await signin.sign_in(ctx, POLICY, "racer.codes", PASSWORD, None)
    assert pending.token is not None and pending.stage == "password"
    checks = 0
    real_check = signin.code_step

    def counted(secret: str, code: str, now) -> int | None:  # noqa: ANN001
        nonlocal checks
        checks += 1
        return real_check(secret, code, now)

    monkeypatch.setattr(signin, "code_step", counted)
    guess = wrong(totp, clock)
    outcomes = await asyncio.gather(
        *(signin.verify_code(ctx, POLICY, pending.token, guess, None) for _ in range(200)),
        return_exceptions=True,
    )
    assert all(isinstance(o, SignInFailed) for o in outcomes), outcomes[:3]
    assert checks == FAILED_SIGNINS_BEFORE_LOCK  # not 50, as before
    with pytest.raises(SignInFailed) as refused:
        await signin.verify_code(ctx, POLICY, pending.token, totp.at(clock.now()), None)
    assert refused.value.locked and checks == FAILED_SIGNINS_BEFORE_LOCK


async def test_200_wrong_passwords_at_once_get_five_checks_and_a_lock_says_nothing(
    ctx: ServiceContext, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await enrolled(ctx, clock, "racer.passwords")
    real_hash = (await ctx.db.transaction(signin.store.by_login, "racer.passwords")).password_hash
    checked: list[str] = []
    real_match = signin._password_matches

    async def counted(password_hash: str, password: str) -> bool:
        if password_hash == real_hash:
            checked.append(password)
        return await real_match(password_hash, password)

    monkeypatch.setattr(signin, "_password_matches", counted)
    monkeypatch.setattr(password_hashing, "CAPACITY", HashingCapacity(workers=2, waiting=500))
    outcomes = await asyncio.gather(
        *(signin.sign_in(ctx, POLICY, "racer.passwords", f"guess {n}", None) for n in range(200)),
        return_exceptions=True,
    )
    assert all(isinstance(o, SignInFailed) and not o.locked for o in outcomes)
    assert len(checked) == FAILED_SIGNINS_BEFORE_LOCK
    # Locked: the right password is not even checked, and is answered as a wrong one.
    with pytest.raises(SignInFailed) as refused:
        await signin.sign_in(ctx, POLICY, "racer.passwords", PASSWORD, None)
    assert not refused.value.locked and not refused.value.expired
    assert PASSWORD not in checked
    clock.advance(signin.LOCK_FOR)  # once the lock has passed, the right password works
    assert (await signin.sign_in(ctx, POLICY, "racer.passwords", PASSWORD, None)).stage == (
        "password"
    )


async def test_argon2_runs_a_few_at_a_time_and_a_flood_is_told_to_wait(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    capacity = HashingCapacity(workers=2, waiting=8)
    monkeypatch.setattr(password_hashing, "CAPACITY", capacity)
    lags: list[float] = []
    done = asyncio.Event()

    async def loop_watch() -> None:  # the event loop (the webhook's too) keeps answering
        while not done.is_set():
            started = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - started)

    watcher = asyncio.create_task(loop_watch())
    outcomes = await asyncio.gather(
        *(signin.sign_in(ctx, POLICY, f"nobody.{n}", "some password", None) for n in range(100)),
        return_exceptions=True,
    )
    done.set()
    await watcher
    busy = [o for o in outcomes if isinstance(o, HashingBusy)]
    failed = [o for o in outcomes if isinstance(o, SignInFailed)]
    assert len(busy) + len(failed) == 100
    assert capacity.most <= 2  # at most 2 x 64 MiB of argon2 memory at any time
    assert len(failed) >= 10 and len(busy) >= 50  # the rest was told to come back
    assert max(lags) < 1.0, max(lags)
