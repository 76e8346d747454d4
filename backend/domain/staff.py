"""Staff members, their roles and the regions they may see."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID

from backend.domain.errors import Forbidden, NotFound

ROLES = ("admin", "staff", "viewer")

# Every bearer token expires: a leaked or forgotten token must not stay valid forever.
DEFAULT_TOKEN_DAYS = 180
MIN_TOKEN_DAYS = 1
MAX_TOKEN_DAYS = 3650


def token_days_problem(days: object) -> str | None:
    """Why ``days`` is not an acceptable token lifetime, or None if it is."""
    if isinstance(days, bool) or not isinstance(days, int):
        return f"a token lifetime is a whole number of days, not {days!r}."
    if not MIN_TOKEN_DAYS <= days <= MAX_TOKEN_DAYS:
        return f"a token lives {MIN_TOKEN_DAYS} to {MAX_TOKEN_DAYS} days, not {days}."
    return None


@dataclass(frozen=True)
class StaffMember:
    id: UUID
    name: str
    role: str
    regions: frozenset[str]  # for admins: every region
    client: str | None = None  # where this request came from, for the audit log

    def readable_regions(self) -> list[str]:
        return sorted(self.regions)

    def may_write(self, region: str) -> bool:
        """Staff and admins may change data of their regions; viewers only read."""
        return region in self.regions and self.role != "viewer"

    def writable_regions(self) -> list[str]:
        """The regions whose data this member may change: none for viewers."""
        return sorted(region for region in self.regions if self.may_write(region))

    def require_write(self, region: str) -> None:
        """Staff and admins may change data of their regions; viewers only read.

        A region outside the member's reach is reported as not found, exactly like one that
        does not exist, so region ids of other authorities cannot be probed.
        """
        if region not in self.regions:
            raise NotFound(f"region {region!r} not found.")
        if self.role == "viewer":
            raise Forbidden("viewers may read but not change data.")

    def require_read(self, region: str) -> None:
        if region not in self.regions:
            raise NotFound(f"region {region!r} not found.")


def new_token() -> str:
    """A bearer token with 256 random bits; shown once, stored only as its hash."""
    return "sd_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
