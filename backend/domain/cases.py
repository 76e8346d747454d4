"""Case registration rules and quarantine-day arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from backend.domain.errors import Invalid

CASE_KINDS = ("index", "contact")
MAX_DAYS_AHEAD = 90  # a quarantine is ordered for now, not for next year
MAX_QUARANTINE_DAYS = 60
MAX_STAFF_REFERENCE = 64
MAX_LABEL = 30


@dataclass(frozen=True)
class NewCase:
    region: str
    kind: str
    quarantine_start: date
    quarantine_end: date
    language: str
    staff_reference: str | None = None
    label: str | None = None  # for households: whom a prompt is for ("Kind 1")
    # False when staff gave no language and ``language`` is the region's default: the person's
    # own Telegram language is then used at activation, if the bot speaks it.
    language_chosen: bool = True


def validate_new_case(case: NewCase, today: date, languages: tuple[str, ...]) -> None:
    """Raise ``Invalid`` naming the field for a registration staff should correct.

    ``today`` is the region's local date; ``languages`` are the ones the bot can speak.
    """
    if case.kind not in CASE_KINDS:
        raise Invalid("kind", "kind must be 'index' or 'contact'.")
    if case.quarantine_end < case.quarantine_start:
        raise Invalid("quarantine_end", "quarantine_end is before quarantine_start.")
    if (case.quarantine_end - case.quarantine_start).days > MAX_QUARANTINE_DAYS:
        raise Invalid(
            "quarantine_end",
            f"a quarantine may last at most {MAX_QUARANTINE_DAYS} days after quarantine_start.",
        )
    if case.quarantine_end < today:
        raise Invalid("quarantine_end", "quarantine_end lies in the past; nothing to monitor.")
    if (case.quarantine_start - today).days > MAX_DAYS_AHEAD:
        raise Invalid(
            "quarantine_start",
            f"quarantine_start may lie at most {MAX_DAYS_AHEAD} days ahead (a typo in the year?).",
        )
    if case.language not in languages:
        raise Invalid("language", f"language must be one of {', '.join(sorted(languages))}.")
    if case.label is not None and not 1 <= len(case.label) <= MAX_LABEL:
        raise Invalid("label", f"label must have 1 to {MAX_LABEL} characters.")
    if case.staff_reference is not None and len(case.staff_reference) > MAX_STAFF_REFERENCE:
        raise Invalid(
            "staff_reference", f"staff_reference may have at most {MAX_STAFF_REFERENCE} characters."
        )


def quarantine_day(start: date, today: date) -> int:
    """Day 1 is the official quarantine start, not the day of activation (a SORMAS lesson)."""
    return (today - start).days + 1


@dataclass(frozen=True)
class Case:
    region: str
    id: UUID
    kind: str
    status: str  # registered -> active -> closed
    quarantine_start: date
    quarantine_end: date
    language: str
    staff_reference: str | None
    chat_id: int | None
    created_at: datetime
    activated_at: datetime | None
    closed_at: datetime | None
    unreachable_at: datetime | None = None  # blocked the bot (403)
    stopped_at: datetime | None = None  # asked for no more prompts (/stop)
    label: str | None = None  # whom the prompts are for, in a household
    prompt_order: int = 0  # the order in which a household is asked
    language_chosen: bool = True  # see NewCase
    # The non-reporting rule raised an alert that may still be open: an answer looks for it.
    silence_alerted: bool = False

    @property
    def reference(self) -> str:
        return case_reference(self.staff_reference, self.id)


def case_reference(staff_reference: str | None, case_id: UUID) -> str:
    """How staff and the authority's group know a case: the authority's own file number, else
    a short id. Pseudonymous: the service stores no name."""
    return staff_reference or "#" + case_id.hex[:8].upper()
