"""A region is one health authority: its time zone, languages and daily prompt times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.domain.rules import DEFAULT_RULES, Rules
from backend.domain.symptoms import DEFAULT_SYMPTOMS, Symptom

# Closing messages ("your monitoring has ended") go out only in the daytime.
CLOSING_EARLIEST = time(8, 0)
CLOSING_LATEST = time(20, 0)
# The latest a closing may be due: it leaves half an hour to send it before 20:00.
CLOSING_LAST_DUE = time(19, 30)


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    timezone: str  # IANA name, e.g. "Europe/Berlin"
    languages: tuple[str, ...]  # the first is the default
    prompt_times: tuple[time, ...]  # local wall-clock times, sorted
    authority_chat_id: int | None = None
    activation_code_hours: int = 72
    reminder_after_minutes: int = 180  # one reminder if a prompt is unanswered this long
    symptoms: tuple[Symptom, ...] = DEFAULT_SYMPTOMS  # the checklist, in order
    correction_hours: int | None = None  # None: an entry may be corrected until the next prompt
    contact: str | None = None  # how citizens reach the authority (shown in /privacy)
    retention_days: int = 30  # diary data is deleted this long after a case closes
    rules: Rules = DEFAULT_RULES  # when to alert the authority
    emergency_number: str = "112"  # named after an answer with a red flag (112: EU-wide)

    @property
    def symptom_codes(self) -> tuple[str, ...]:
        return tuple(symptom.code for symptom in self.symptoms)

    def symptom(self, code: str) -> Symptom | None:
        return next((s for s in self.symptoms if s.code == code), None)

    @property
    def reminder_after(self) -> timedelta:
        return timedelta(minutes=self.reminder_after_minutes)

    @property
    def closing_time(self) -> time:
        """When the last day's closing message goes out: an hour after the last prompt, but
        always inside 08:00-20:00 local time, when a message does not wake anyone."""
        last = datetime.combine(date(2000, 1, 1), self.prompt_times[-1]) + timedelta(hours=1)
        if self.prompt_times[-1] >= time(23):  # an hour later is tomorrow: take the latest
            return CLOSING_LAST_DUE
        return min(max(last.time(), CLOSING_EARLIEST), CLOSING_LAST_DUE)

    def may_send_closing(self, instant: datetime) -> bool:
        return CLOSING_EARLIEST <= instant.astimezone(self.zone).time() < CLOSING_LATEST

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def next_prompt_for(self, instant: datetime, start: date, end: date) -> datetime | None:
        """The next prompt after ``instant`` for a quarantine from ``start`` to ``end`` (local
        dates): none before the first slot of the start date, None after the end's last one.

        Built from local wall-clock times, so it stays at 09:00 across daylight-saving changes.
        """
        local = instant.astimezone(self.zone)
        day = max(local.date(), start)
        while day <= end:
            for at in self.prompt_times:
                candidate = datetime.combine(day, at, tzinfo=self.zone)
                if candidate > local:
                    return candidate
            day += timedelta(days=1)
        return None

    def current_slot(self, instant: datetime) -> str:
        """The prompt slot ``instant`` falls in, by the schedule: the latest prompt time
        passed today ("09:00"), or "early" before the first. A round started by staff
        belongs to it: one per slot (issue 20)."""
        local = instant.astimezone(self.zone).time()
        passed = [at for at in self.prompt_times if at <= local]
        return passed[-1].strftime("%H:%M") if passed else "early"

    def recent_slots(self, instant: datetime, within: timedelta) -> list[tuple[date, time]]:
        """Prompt slots (local date, time) that fell due in the ``within`` before ``instant``.

        These are the rounds that should exist by now; a missing one (downtime, a failed
        transaction) is created late, but never one older than ``within``.
        """
        local = instant.astimezone(self.zone)
        slots = []
        for days in range(-((within.days or 0) + 1), 1):
            day = local.date() + timedelta(days=days)
            for at in self.prompt_times:
                due = datetime.combine(day, at, tzinfo=self.zone)
                if instant - within < due <= instant:
                    slots.append((day, at))
        return slots
