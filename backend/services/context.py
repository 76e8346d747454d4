"""What every use case needs, built once by the composition root (backend/server.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from backend.domain.clock import Clock
from backend.domain.errors import NotFound
from backend.domain.regions import Region
from backend.services.totp_secrets import TotpKeys
from backend.storage.database import Database


class RegionDirectory:
    """The configured regions; replaceable as a whole when the regions file is reloaded."""

    def __init__(self, regions: Mapping[str, Region]):
        self._regions = dict(regions)

    def replace(self, regions: Mapping[str, Region]) -> None:
        self._regions = dict(regions)

    def get(self, region_id: str) -> Region | None:
        return self._regions.get(region_id)

    def require(self, region_id: str) -> Region:
        region = self._regions.get(region_id)
        if region is None:
            raise NotFound(f"region {region_id!r} not found.")
        return region

    def __iter__(self) -> Iterator[Region]:
        return iter(list(self._regions.values()))

    def ids(self) -> list[str]:
        return sorted(self._regions)


class Signal:
    """Wakes an in-process worker (the sender, the alert checker) as soon as a transaction has
    queued work for it.

    Other instances' work is found by the worker's periodic poll; this only removes the
    latency for our own.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass
        self._event.clear()


@dataclass(frozen=True)
class ServiceContext:
    db: Database
    regions: RegionDirectory
    clock: Clock
    languages: tuple[str, ...]  # languages with a shipped catalog
    outbox: Signal
    send_rate: float = 30.0  # messages per second the sender may use; rounds are spread by it
    checks: Signal = field(default_factory=Signal)  # entries queued for the alert rules
    # Encrypt the console's TOTP secrets at rest (DIARY_TOTP_KEY_FILE). None only where no
    # one signs in to the console; the sign-in use cases refuse to run without them.
    totp_keys: TotpKeys | None = None
