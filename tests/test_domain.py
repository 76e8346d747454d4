"""Pure rules: temperature reading, the questionnaire machine, regions' prompt times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest

from backend.domain import questionnaire as q
from backend.domain.cases import NewCase, quarantine_day, validate_new_case
from backend.domain.errors import Invalid
from backend.domain.questionnaire import Action, Draft, Problem, Step
from backend.domain.regions import Region
from backend.domain.temperature import parse_temperature

CODES = ("cough", "fever", "headache")


@pytest.mark.parametrize(
    ("text", "celsius"),
    [
        ("38.5", "38.5"),
        ("38,5", "38.5"),
        ("38.5 °C", "38.5"),
        ("38,5°", "38.5"),
        ("  37 ", "37.0"),
        ("101.3 F", "38.5"),
        ("101,3°F", "38.5"),
        ("98.6", "37.0"),  # no unit, but only Fahrenheit makes sense
        ("37.25", "37.3"),
    ],
)
def test_temperatures_in_natural_forms(text: str, celsius: str) -> None:
    reading = parse_temperature(text)
    assert reading is not None and reading.celsius == Decimal(celsius) and reading.plausible


@pytest.mark.parametrize(
    ("text", "celsius"),
    [
        ("\u200f٣٨٫٥", "38.5"),  # Arabic-Indic digits, decimal separator, right-to-left mark
        ("٣٨،٥ درجة", "38.5"),
        ("38.5\u200e°C", "38.5"),
        ("３８．５", "38.5"),  # full-width
        ("38,5 С", "38.5"),  # Cyrillic С
        ("38,5 с", "38.5"),
        ("38.5℃", "38.5"),
        ("101.3℉", "38.5"),
        ("38 градусов", "38.0"),
        ("38,2 градуса", "38.2"),
        ("37,9 градусів", "37.9"),
        ("38 derece", "38.0"),
        ("38,5 stopni", "38.5"),
        ("38,5 stopnie", "38.5"),
        ("38,5 Grad", "38.5"),
        ("101 degrees F", "38.3"),
        ("38.5 degrees", "38.5"),
    ],
)
def test_temperatures_in_every_shipped_language(text: str, celsius: str) -> None:
    reading = parse_temperature(text)
    assert reading is not None and reading.celsius == Decimal(celsius), text


@pytest.mark.parametrize(
    "text", ["", "hot", "38.5.1", "-38", "3", "thirty-eight", "38.5 K", "38 gradx", "\u200f"]
)
def test_unreadable_temperatures(text: str) -> None:
    assert parse_temperature(text) is None


@pytest.mark.parametrize(
    ("text", "plausible"),
    [("33.9", False), ("34", True), ("43", True), ("43.1", False), ("45", False)],
)
def test_plausible_range_is_34_to_43(text: str, plausible: bool) -> None:
    reading = parse_temperature(text)
    assert reading is not None and reading.plausible is plausible


def test_one_tap_all_good() -> None:
    outcome = q.press(Draft(), Action.WELL, None, CODES)
    assert outcome.answer == q.Answer(feeling_well=True)
    assert outcome.draft.step is Step.DONE


@pytest.mark.parametrize(
    ("step", "action", "arg"),
    [
        (Step.ASK, Action.WELL, "x"),  # "well" with something appended
        (Step.ASK, Action.UNWELL, "cough"),
        (Step.SYMPTOMS, Action.DONE, "cough"),
        (Step.TREND, Action.TREND, "x"),
        (Step.SUMMARY, Action.SEND, "well"),
    ],
)
def test_a_button_we_never_drew_does_nothing(step: Step, action: Action, arg: str | None) -> None:
    outcome = q.press(Draft(step=step), action, arg, CODES)
    assert outcome.problem is q.Problem.NOT_NOW and outcome.answer is None
    assert outcome.draft == Draft(step=step)


def walk(draft: Draft, *steps: tuple[str, str | None] | str) -> q.Outcome:
    """Apply button presses (action, arg) and typed texts (str) in turn."""
    outcome = q.Outcome(draft)
    for step in steps:
        if isinstance(step, tuple):
            outcome = q.press(outcome.draft, step[0], step[1], CODES)
        else:
            outcome = q.type_text(outcome.draft, step)
        assert outcome.problem is None, (step, outcome.problem)
    return outcome


def test_the_full_questionnaire() -> None:
    outcome = walk(
        Draft(),
        (Action.UNWELL, None),
        (Action.TOGGLE, "fever"),
        (Action.TOGGLE, "cough"),
        (Action.TOGGLE, "fever"),  # untoggled
        (Action.TOGGLE, "headache"),
        (Action.DONE, None),
        "38,4",
        (Action.TREND, "worse"),
        "  Since   last night\n ",
    )
    assert outcome.draft.step is Step.SUMMARY and outcome.answer is None
    assert outcome.draft.symptoms == ("cough", "headache")  # in list order, not tap order
    assert outcome.draft.note == "Since last night"
    sent = q.press(outcome.draft, Action.SEND, None, CODES)
    assert sent.answer == q.Answer(
        False, ("cough", "headache"), Decimal("38.4"), "worse", "Since last night"
    )
    assert sent.draft.step is Step.DONE and sent.draft.well is False


def test_change_before_send_keeps_the_answers() -> None:
    summary = walk(
        Draft(),
        (Action.UNWELL, None),
        (Action.TOGGLE, "cough"),
        (Action.DONE, None),
        "39",
        (Action.TREND, "same"),
        (Action.SKIP, None),
    ).draft
    back = walk(summary, (Action.CHANGE, None)).draft
    assert back.step is Step.SYMPTOMS and back.symptoms == ("cough",)
    again = walk(back, (Action.DONE, None), (Action.KEEP, None), (Action.TREND, "better"))
    assert again.draft.temperature == Decimal("39.0") and again.draft.trend == "better"
    assert walk(again.draft, (Action.SKIP, None)).draft.step is Step.SUMMARY


def test_not_measured_and_none_of_these() -> None:
    draft = q.press(Draft(step=Step.SYMPTOMS, symptoms=("cough",)), Action.NONE, None, CODES).draft
    assert draft.step is Step.TEMPERATURE and draft.symptoms == ()
    outcome = walk(draft, (Action.NOT_MEASURED, None), (Action.TREND, "same"), (Action.SKIP, None))
    sent = q.press(outcome.draft, Action.SEND, None, CODES)
    assert sent.answer == q.Answer(feeling_well=False, trend="same")


def test_corrections_reopen_within_the_window() -> None:
    done = q.press(Draft(), Action.WELL, None, CODES).draft
    assert q.press(done, Action.WELL, None, CODES).problem is Problem.ALREADY_RECORDED
    closed = q.press(done, Action.CORRECT, None, CODES, may_correct=False)
    assert closed.problem is Problem.CORRECTION_CLOSED
    reopened = q.press(done, Action.CORRECT, None, CODES).draft
    assert reopened.step is Step.ASK
    unwell = q.press(reopened, Action.UNWELL, None, CODES).draft
    assert unwell.well is None  # the summary must not say "you feel well" any more


@pytest.mark.parametrize(
    ("draft", "action", "arg", "problem"),
    [
        (Draft(), Action.DONE, None, Problem.NOT_NOW),
        (Draft(), "drop table", None, Problem.NOT_NOW),
        (Draft(step=Step.SYMPTOMS), Action.TOGGLE, "not_a_symptom", Problem.UNKNOWN_SYMPTOM),
        (Draft(step=Step.SYMPTOMS), Action.TOGGLE, None, Problem.UNKNOWN_SYMPTOM),
        (Draft(step=Step.TEMPERATURE), Action.WELL, None, Problem.NOT_NOW),
        (Draft(step=Step.TEMPERATURE), Action.KEEP, None, Problem.NOT_NOW),  # nothing to keep
        (Draft(step=Step.TREND), Action.TREND, "terrible", Problem.NOT_NOW),
        (Draft(step=Step.NOTE), Action.KEEP, None, Problem.NOT_NOW),
        (Draft(step=Step.SUMMARY), Action.WELL, None, Problem.NOT_NOW),
        (Draft(step=Step.DONE), Action.SEND, None, Problem.ALREADY_RECORDED),
    ],
)
def test_wrong_buttons_change_nothing(
    draft: Draft, action: str, arg: str | None, problem: Problem
) -> None:
    outcome = q.press(draft, action, arg, CODES)
    assert outcome.problem is problem and outcome.draft == draft and outcome.answer is None


def test_text_validation() -> None:
    assert q.type_text(Draft(), "38.5").problem is Problem.BUTTON_EXPECTED
    assert q.type_text(Draft(step=Step.TREND), "worse").problem is Problem.BUTTON_EXPECTED
    temperature = Draft(step=Step.TEMPERATURE)
    assert q.type_text(temperature, "warm").problem is Problem.TEMPERATURE_UNREADABLE
    implausible = q.type_text(temperature, "45")
    assert implausible.problem is Problem.TEMPERATURE_IMPLAUSIBLE
    assert implausible.detail == Decimal("45.0") and implausible.answer is None
    note = Draft(step=Step.NOTE)
    too_long = q.type_text(note, "x" * (q.MAX_NOTE + 1))
    assert too_long.problem is Problem.NOTE_TOO_LONG and too_long.detail == q.MAX_NOTE
    assert q.type_text(note, "x" * q.MAX_NOTE).draft.step is Step.SUMMARY
    assert q.type_text(note, " \u200b\u200f ").problem is Problem.BUTTON_EXPECTED


def test_draft_round_trip() -> None:
    draft = Draft(
        step=Step.SUMMARY,
        symptoms=("cough",),
        temperature=Decimal("38.2"),
        measured=True,
        trend="worse",
        note="n",
        noted=True,
    )
    assert Draft.from_stored(draft.step.value, draft.to_json()) == draft
    assert Draft.from_stored("ask", {"trend": "evil", "symptoms": None}) == Draft()


BERLIN = Region(
    id="de-x",
    name="X",
    timezone="Europe/Berlin",
    languages=("de", "en"),
    prompt_times=(time(8, 0), time(18, 0)),
)


def test_next_prompt_in_local_time_across_dst() -> None:
    # Saturday 28 March 2026, 20:00 Berlin (UTC+1); the clocks go forward that night.
    before = datetime(2026, 3, 28, 19, 0, tzinfo=UTC)
    nxt = BERLIN.next_prompt_for(before, date.min, date.max)
    assert (nxt.date(), nxt.hour, nxt.minute) == (date(2026, 3, 29), 8, 0)
    assert nxt.utcoffset().total_seconds() == 2 * 3600  # summer time now
    later = BERLIN.next_prompt_for(datetime(2026, 3, 29, 6, 30, tzinfo=UTC), date.min, date.max)
    assert later.hour == 18


def test_next_prompt_respects_the_quarantine_dates() -> None:
    morning = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)  # 08:30 in Berlin
    later = BERLIN.next_prompt_for(morning, date(2026, 11, 29), date(2026, 12, 8))
    assert later is not None and (later.date(), later.hour) == (date(2026, 11, 29), 8)
    today = BERLIN.next_prompt_for(morning, date(2026, 11, 20), date(2026, 11, 26))
    assert today is not None and (today.date(), today.hour) == (date(2026, 11, 26), 18)
    evening = datetime(2026, 11, 26, 18, 30, tzinfo=UTC)  # after the last day's last slot
    assert BERLIN.next_prompt_for(evening, date(2026, 11, 20), date(2026, 11, 26)) is None
    assert BERLIN.next_prompt_for(evening, date(2026, 11, 20), date(2026, 11, 25)) is None


def test_local_date_is_the_regions() -> None:
    late_utc = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)
    assert BERLIN.local_date(late_utc) == date(2026, 11, 27)


def test_quarantine_days_count_from_official_start() -> None:
    assert quarantine_day(date(2026, 11, 20), date(2026, 11, 26)) == 7


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "suspect"}, "kind"),
        ({"quarantine_end": date(2026, 11, 19)}, "quarantine_end"),
        ({"quarantine_end": date(2027, 3, 1)}, "quarantine_end"),
        (
            {"quarantine_start": date(2026, 11, 1), "quarantine_end": date(2026, 11, 10)},
            "quarantine_end",
        ),
        ({"language": "xx"}, "language"),
        ({"staff_reference": "x" * 65}, "staff_reference"),
    ],
)
def test_invalid_registrations_name_the_field(change: dict, field: str) -> None:
    values = dict(
        region="de-x",
        kind="contact",
        quarantine_start=date(2026, 11, 20),
        quarantine_end=date(2026, 12, 3),
        language="de",
    )
    values.update(change)
    with pytest.raises(Invalid) as raised:
        validate_new_case(NewCase(**values), date(2026, 11, 26), ("de", "en"))
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("text", "guessed"),
    [("98.6", "98.6"), ("100", "100"), ("101.3 F", None), ("38.5", None), ("100 °F", None)],
)
def test_a_guessed_unit_is_said_to_be_guessed(text: str, guessed: str | None) -> None:
    reading = parse_temperature(text)
    assert reading is not None
    assert reading.guessed_fahrenheit == (Decimal(guessed) if guessed else None)


def test_a_guessed_unit_is_confirmed_before_it_counts() -> None:
    at_temperature = walk(Draft(), (Action.UNWELL, None), (Action.DONE, None)).draft
    asked = q.type_text(at_temperature, "100")
    assert asked.problem is None and asked.draft.step is Step.TEMPERATURE
    assert asked.draft.guess_f == Decimal("100") and asked.draft.temperature is None
    stored = Draft.from_stored(asked.draft.step, asked.draft.to_json())
    assert stored == asked.draft  # survives the database
    confirmed = q.press(stored, Action.CONFIRM, None, CODES).draft
    assert confirmed.step is Step.TREND and confirmed.temperature == Decimal("37.8")
    assert confirmed.guess_f is None and confirmed.measured
    again = q.press(asked.draft, Action.RETYPE, None, CODES).draft
    assert again.step is Step.TEMPERATURE and again.guess_f is None
    typed_instead = q.type_text(asked.draft, "38,1").draft
    assert typed_instead.step is Step.TREND and typed_instead.temperature == Decimal("38.1")
    assert typed_instead.guess_f is None
    # Confirming with no guess (a stale button) changes nothing.
    assert q.press(at_temperature, Action.CONFIRM, None, CODES).problem is q.Problem.NOT_NOW
