"""A region is one health authority: its time zone, languages and daily prompt times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    timezone: str  # IANA name, e.g. "Europe/Berlin"
    languages: tuple[str, ...]  # the first is the default
    prompt_times: tuple[time, ...]  # local wall-clock times, sorted
    authority_chat_id: int | None = None
    activation_code_hours: int = 72

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def next_prompt_at(self, instant: datetime) -> datetime:
        """The next prompt time after ``instant``, in the region's zone.

        Built from local wall-clock times, so it stays at 09:00 across daylight-saving changes.
        """
        local = instant.astimezone(self.zone)
        for days in (0, 1):
            day = local.date() + timedelta(days=days)
            for at in self.prompt_times:
                candidate = datetime.combine(day, at, tzinfo=self.zone)
                if candidate > local:
                    return candidate
        raise ValueError(f"region {self.id} has no prompt times")
