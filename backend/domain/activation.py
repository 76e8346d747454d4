"""One-time activation codes carried in the Telegram deep link ``?start=<code>``."""

from __future__ import annotations

import hashlib
import re
import secrets

# Deep-link payloads allow A-Z a-z 0-9 _ - and at most 64 characters; token_urlsafe(16) gives
# 22 such characters carrying 128 random bits.
_CODE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_code() -> str:
    return secrets.token_urlsafe(16)


def hash_code(code: str) -> str:
    """Codes are stored hashed, like passwords: a database dump must not activate cases."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def looks_like_code(text: str) -> bool:
    return bool(_CODE.match(text))
