"""The daily questionnaire as a pure state machine.

A ``Draft`` is the half-answered questionnaire; it is stored with its prompt in the database,
never only in memory. ``press`` (a button) and ``type_text`` (a typed message) return an
``Outcome``: the next draft, the finished ``Answer`` when complete, or a ``problem`` code the bot
turns into a friendly, specific hint. Nothing here knows about Telegram or SQL.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from backend.domain.temperature import parse_temperature


class Step(StrEnum):
    ASK = "ask"  # "How are you today?": all good, or not
    SYMPTOMS = "symptoms"  # checklist with toggles, "none" and "done"
    TEMPERATURE = "temperature"  # typed, or "not measured"
    DONE = "done"


class Action(StrEnum):
    WELL = "well"
    UNWELL = "unwell"
    TOGGLE = "tog"
    NONE = "none"
    DONE = "done"
    NOT_MEASURED = "nomeas"


class Problem(StrEnum):
    BUTTON_EXPECTED = "button_expected"  # text typed where a button answers
    NOT_NOW = "not_now"  # a button of an earlier step of this questionnaire
    UNKNOWN_SYMPTOM = "unknown_symptom"
    TEMPERATURE_UNREADABLE = "temperature_unreadable"
    TEMPERATURE_IMPLAUSIBLE = "temperature_implausible"


@dataclass(frozen=True)
class Answer:
    """A complete diary entry, ready to store."""

    feeling_well: bool
    symptoms: tuple[str, ...] = ()
    temperature_c: Decimal | None = None


@dataclass(frozen=True)
class Draft:
    step: Step = Step.ASK
    symptoms: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"symptoms": list(self.symptoms)}

    @classmethod
    def from_stored(cls, step: str, data: dict[str, Any]) -> Draft:
        return cls(step=Step(step), symptoms=tuple(data.get("symptoms", ())))


@dataclass(frozen=True)
class Outcome:
    draft: Draft
    answer: Answer | None = None
    problem: Problem | None = None
    detail: Any = None  # e.g. the implausible temperature, for the hint

    @property
    def changed(self) -> bool:
        return self.problem is None


def press(draft: Draft, action: str, arg: str | None, symptom_codes: Collection[str]) -> Outcome:
    """Apply a button press. ``action`` and ``arg`` come from the client: never trusted."""
    step = draft.step
    if step is Step.ASK and action == Action.WELL:
        return _finish(draft, Answer(feeling_well=True))
    if step is Step.ASK and action == Action.UNWELL:
        return Outcome(replace(draft, step=Step.SYMPTOMS))
    if step is Step.SYMPTOMS and action == Action.TOGGLE:
        if arg not in symptom_codes:
            return Outcome(draft, problem=Problem.UNKNOWN_SYMPTOM)
        chosen = set(draft.symptoms) ^ {arg}
        ordered = tuple(code for code in symptom_codes if code in chosen)
        return Outcome(replace(draft, symptoms=ordered))
    if step is Step.SYMPTOMS and action == Action.NONE:
        return Outcome(replace(draft, symptoms=(), step=Step.TEMPERATURE))
    if step is Step.SYMPTOMS and action == Action.DONE:
        return Outcome(replace(draft, step=Step.TEMPERATURE))
    if step is Step.TEMPERATURE and action == Action.NOT_MEASURED:
        return _finish(draft, Answer(feeling_well=False, symptoms=draft.symptoms))
    return Outcome(draft, problem=Problem.NOT_NOW)


def type_text(draft: Draft, text: str) -> Outcome:
    """Apply a typed message: only the temperature step expects text."""
    if draft.step is not Step.TEMPERATURE:
        return Outcome(draft, problem=Problem.BUTTON_EXPECTED)
    reading = parse_temperature(text)
    if reading is None:
        return Outcome(draft, problem=Problem.TEMPERATURE_UNREADABLE)
    if not reading.plausible:
        return Outcome(draft, problem=Problem.TEMPERATURE_IMPLAUSIBLE, detail=reading.celsius)
    answer = Answer(feeling_well=False, symptoms=draft.symptoms, temperature_c=reading.celsius)
    return _finish(draft, answer)


def _finish(draft: Draft, answer: Answer) -> Outcome:
    return Outcome(replace(draft, step=Step.DONE), answer=answer)
