"""Signing in to the staff console: what a login and a password must be, how long sessions
live, and how guessing is limited. Pure rules; hashing and codes are done in services.signin.

Health data: a password alone is not enough (a second factor, TOTP, is required of everyone),
a session ends after a while of inactivity and after a working day at most, and an account
stops accepting attempts for a while after several wrong ones.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from backend.domain.translatable import N_

LOGIN = re.compile(r"[a-z0-9][a-z0-9._@-]{2,63}")
PASSWORD_MIN = 12
PASSWORD_MAX = 256  # argon2 takes any length; a limit keeps a huge form field cheap

FAILED_SIGNINS_BEFORE_LOCK = 5
LOCK_FOR = timedelta(minutes=15)
# A temporary password (from an admin or the command line) is for the first sign-in only.
TEMPORARY_FOR = timedelta(hours=72)

# A code is accepted one time step early or late (clocks of phones drift), never twice.
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1
TOTP_ISSUER = "Symptom Diary"

# Readable temporary passwords: no 0/O, 1/l/I. 20 characters of 31: about 99 bits.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class SessionPolicy:
    """How long a console session lives. ``pending``: between the password and the code (or
    the account's setup), a short time only."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    pending: timedelta = timedelta(minutes=10)


def normal_login(login: str) -> str:
    """Logins are compared without case and surrounding spaces."""
    return login.strip().lower()


def login_problem(login: str) -> str | None:
    if not LOGIN.fullmatch(login):
        return (
            "a login has 3 to 64 characters: lower-case letters, digits and . _ @ -, "
            "starting with a letter or a digit."
        )
    return None


# Problems with a chosen password: message ids with {min} and {max}, formatted by
# ``describe`` (or after translation, with the same values).
TOO_SHORT = N_("A password needs at least {min} characters.")
TOO_LONG = N_("A password may have at most {max} characters.")
TOO_EASY = N_("This password is too easy to guess: choose another.")
SAME_AS_TEMPORARY = N_("Choose a password other than the temporary one.")


def password_problem(password: str, login: str) -> str | None:
    """Why ``password`` may not be chosen (a message id), or None. Length is what counts
    (NIST SP 800-63B): no composition rules, but not the login and not a few characters
    repeated."""
    if len(password) < PASSWORD_MIN:
        return TOO_SHORT
    if len(password) > PASSWORD_MAX:
        return TOO_LONG
    if "\x00" in password or password.strip().lower() == login.lower() or len(set(password)) < 4:
        return TOO_EASY
    return None


def describe(problem: str) -> str:
    return problem.format(min=PASSWORD_MIN, max=PASSWORD_MAX)


def temporary_password() -> str:
    """A one-time password an admin hands over; replaced at the first sign-in."""
    raw = "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def normal_code(code: str) -> str:
    """A code as people type it: '123 456' or '123-456' count as '123456'."""
    return re.sub(r"[\s-]", "", code)
