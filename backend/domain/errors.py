"""Domain errors, one type per meaning.

They are mapped once to HTTP problem responses (backend/api/problems.py) and once to friendly
chat replies (bot/replies.py). Messages here are for staff and logs, never personal data.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class; ``detail`` is one human-readable sentence."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The thing does not exist, or exists outside the caller's regions (indistinguishable)."""


class Conflict(DomainError):
    """The request is valid but clashes with the current state."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class Invalid(DomainError):
    """A value is not acceptable; ``field`` names it."""

    def __init__(self, field: str, detail: str):
        super().__init__(detail)
        self.field = field
