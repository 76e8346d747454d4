"""The daily questionnaire as a pure state machine.

A ``Draft`` is the half-answered questionnaire; it is stored with its prompt in the database,
never only in memory. ``press`` (a button) and ``type_text`` (a typed message) return an
``Outcome``: the next draft, the finished ``Answer`` when it is to be stored, or a ``problem``
code that the bot turns into a friendly, specific hint. Nothing here knows Telegram or SQL.

    ask --well--> done (stored at once: one tap when all is well)
     |
     unwell --> symptoms --> temperature --> trend --> note --> summary --send--> done
                            (a unit guessed: "did you mean ...?" first)
                   ^                                               |
                   +--------------------- change ------------------+
    done --correct--> ask (within the region's correction window), answers kept
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from backend.domain.temperature import fahrenheit_to_celsius, parse_temperature

MAX_NOTE = 500
TRENDS = ("better", "same", "worse")


class Step(StrEnum):
    ASK = "ask"  # "How are you today?": all good, or not
    SYMPTOMS = "symptoms"  # checklist with toggles, "none" and "done"
    TEMPERATURE = "temperature"  # typed, "not measured", or keep the value from before
    TREND = "trend"  # compared with yesterday: better, same, worse
    NOTE = "note"  # an optional short note, typed; or skip
    SUMMARY = "summary"  # everything at a glance: send, or change
    DONE = "done"


class Action(StrEnum):
    WELL = "well"
    UNWELL = "unwell"
    TOGGLE = "tog"
    NONE = "none"
    DONE = "done"
    NOT_MEASURED = "nomeas"
    KEEP = "keep"  # keep the temperature or note given before (after "change")
    TREND = "trend"
    SKIP = "skip"
    SEND = "send"
    CHANGE = "change"
    CORRECT = "correct"
    CONFIRM = "ok"  # yes, the temperature as the unit was guessed
    RETYPE = "retype"  # no: type it again


class Problem(StrEnum):
    BUTTON_EXPECTED = "button_expected"  # text typed where a button answers
    NOT_NOW = "not_now"  # a button of another step of this questionnaire
    UNKNOWN_SYMPTOM = "unknown_symptom"
    TEMPERATURE_UNREADABLE = "temperature_unreadable"
    TEMPERATURE_IMPLAUSIBLE = "temperature_implausible"
    NOTE_TOO_LONG = "note_too_long"
    CORRECTION_CLOSED = "correction_closed"
    ALREADY_RECORDED = "already_recorded"  # a second tap on a sent answer


@dataclass(frozen=True)
class Answer:
    """A complete diary entry, ready to store."""

    feeling_well: bool
    symptoms: tuple[str, ...] = ()
    temperature_c: Decimal | None = None
    trend: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Draft:
    step: Step = Step.ASK
    symptoms: tuple[str, ...] = ()
    temperature: Decimal | None = None
    measured: bool = False  # a temperature step was answered (a value, or "not measured")
    trend: str | None = None
    note: str | None = None
    noted: bool = False  # the note step was answered (a note, or skipped)
    well: bool | None = None  # the answer as sent (for corrections)
    # A number typed without a unit, read as °F (e.g. "100"): asked once whether that is
    # what the person meant, before it counts.
    guess_f: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "symptoms": list(self.symptoms),
            "temperature": str(self.temperature) if self.temperature is not None else None,
            "measured": self.measured,
            "trend": self.trend,
            "note": self.note,
            "noted": self.noted,
            "well": self.well,
            "guess_f": str(self.guess_f) if self.guess_f is not None else None,
        }

    @classmethod
    def from_stored(cls, step: str, data: dict[str, Any]) -> Draft:
        temperature = data.get("temperature")
        return cls(
            step=Step(step),
            symptoms=tuple(data.get("symptoms") or ()),
            temperature=Decimal(temperature) if temperature is not None else None,
            measured=bool(data.get("measured")),
            trend=data.get("trend") if data.get("trend") in TRENDS else None,
            note=data.get("note"),
            noted=bool(data.get("noted")),
            well=data.get("well"),
            guess_f=_decimal_or_none(data.get("guess_f")),
        )

    def answer(self) -> Answer:
        return Answer(
            feeling_well=False,
            symptoms=self.symptoms,
            temperature_c=self.temperature,
            trend=self.trend,
            note=self.note,
        )


@dataclass(frozen=True)
class Outcome:
    draft: Draft
    answer: Answer | None = None  # set when an answer is to be stored now
    problem: Problem | None = None
    detail: Any = None  # e.g. the implausible temperature, or the note's limit


_WITH_ARG = frozenset({Action.TOGGLE, Action.TREND})  # a symptom code, a trend


def press(
    draft: Draft,
    action: str,
    arg: str | None,
    symptom_codes: Collection[str],
    may_correct: bool = True,
) -> Outcome:
    """Apply a button press. ``action`` and ``arg`` come from the client: never trusted."""
    if arg is not None and action not in _WITH_ARG:
        # No button we draw looks like this: "well" with something appended is not "well".
        return Outcome(draft, problem=Problem.NOT_NOW)
    step = draft.step
    if step is Step.ASK and action == Action.WELL:
        well = Draft(step=Step.DONE, well=True)
        return Outcome(well, answer=Answer(feeling_well=True))
    if step is Step.ASK and action == Action.UNWELL:
        return Outcome(replace(draft, step=Step.SYMPTOMS, well=None))
    if step is Step.SYMPTOMS:
        return _symptoms(draft, action, arg, symptom_codes)
    if step is Step.TEMPERATURE:
        return _temperature(draft, action)
    if step is Step.TREND and action == Action.TREND and arg in TRENDS:
        return Outcome(replace(draft, step=Step.NOTE, trend=arg))
    if step is Step.NOTE and action == Action.SKIP:
        return Outcome(replace(draft, step=Step.SUMMARY, note=None, noted=True))
    if step is Step.NOTE and action == Action.KEEP and draft.noted:
        return Outcome(replace(draft, step=Step.SUMMARY))
    if step is Step.SUMMARY and action == Action.SEND:
        sent = replace(draft, step=Step.DONE, well=False)
        return Outcome(sent, answer=draft.answer())
    if step is Step.SUMMARY and action == Action.CHANGE:
        return Outcome(replace(draft, step=Step.SYMPTOMS))
    if step is Step.DONE and action == Action.CORRECT:
        if not may_correct:
            return Outcome(draft, problem=Problem.CORRECTION_CLOSED)
        return Outcome(replace(draft, step=Step.ASK))
    if step is Step.DONE:
        return Outcome(draft, problem=Problem.ALREADY_RECORDED)
    return Outcome(draft, problem=Problem.NOT_NOW)


def _temperature(draft: Draft, action: str) -> Outcome:
    if action == Action.NOT_MEASURED:
        return Outcome(
            replace(draft, step=Step.TREND, temperature=None, measured=True, guess_f=None)
        )
    if action == Action.KEEP and draft.measured:
        return Outcome(replace(draft, step=Step.TREND, guess_f=None))
    if action == Action.CONFIRM and draft.guess_f is not None:
        celsius = fahrenheit_to_celsius(draft.guess_f)
        confirmed = replace(draft, temperature=celsius, measured=True, guess_f=None)
        return Outcome(replace(confirmed, step=Step.TREND))
    if action == Action.RETYPE and draft.guess_f is not None:
        return Outcome(replace(draft, guess_f=None))
    return Outcome(draft, problem=Problem.NOT_NOW)


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(value) if value is not None else None
    except (ArithmeticError, TypeError):
        return None


def _symptoms(
    draft: Draft, action: str, arg: str | None, symptom_codes: Collection[str]
) -> Outcome:
    if action == Action.TOGGLE:
        if arg not in symptom_codes:
            return Outcome(draft, problem=Problem.UNKNOWN_SYMPTOM)
        chosen = set(draft.symptoms) ^ {arg}
        ordered = tuple(code for code in symptom_codes if code in chosen)
        return Outcome(replace(draft, symptoms=ordered))
    if action == Action.NONE:
        return Outcome(replace(draft, symptoms=(), step=Step.TEMPERATURE))
    if action == Action.DONE:
        return Outcome(replace(draft, step=Step.TEMPERATURE))
    return Outcome(draft, problem=Problem.NOT_NOW)


def type_text(draft: Draft, text: str) -> Outcome:
    """Apply a typed message: the temperature or the note when asked for, else a hint."""
    if draft.step is Step.TEMPERATURE:
        reading = parse_temperature(text)
        if reading is None:
            return Outcome(draft, problem=Problem.TEMPERATURE_UNREADABLE)
        if not reading.plausible:
            return Outcome(draft, problem=Problem.TEMPERATURE_IMPLAUSIBLE, detail=reading.celsius)
        if reading.guessed_fahrenheit is not None:  # "100": ask before it counts
            return Outcome(replace(draft, guess_f=reading.guessed_fahrenheit))
        measured = replace(
            draft, step=Step.TREND, temperature=reading.celsius, measured=True, guess_f=None
        )
        return Outcome(measured)
    if draft.step is Step.NOTE:
        # One line, no layout tricks in the authority's view, and nothing PostgreSQL refuses
        # to store (a NUL in a note failed the update again at every delivery).
        note = one_line(text)
        if len(note) > MAX_NOTE:
            return Outcome(draft, problem=Problem.NOTE_TOO_LONG, detail=MAX_NOTE)
        if not any(unicodedata.category(ch)[0] in "LNPS" for ch in note):
            return Outcome(draft, problem=Problem.BUTTON_EXPECTED)  # nothing visible
        return Outcome(replace(draft, step=Step.SUMMARY, note=note, noted=True))
    return Outcome(draft, problem=Problem.BUTTON_EXPECTED)


def one_line(text: str) -> str:
    """What a person typed, safe to store and show on one line: control characters (line
    breaks, tabs, NUL...) and unpaired surrogates become spaces, runs of spaces one."""
    return " ".join(
        "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text).split()
    )


def expects_text(step: str) -> bool:
    return step in (Step.TEMPERATURE, Step.NOTE)
