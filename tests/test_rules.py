"""Escalation rules at their boundaries, per-region overrides and inheritance, and rule
sections that stop start-up with a sentence naming region, rule and field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from backend.config.regions import RegionsFileError, load_regions
from backend.domain.rules import DEFAULT_RULES, Reading, Rule, evaluate, non_reporting_since


def reading(day: date = date(2026, 11, 26), **values) -> Reading:
    return Reading(local_date=day, feeling_well=False, **values)


def rules_hit(kind: str, entry: Reading, earlier=()) -> set[Rule]:
    return {f.rule for f in evaluate(DEFAULT_RULES, kind, entry, list(earlier))}


@pytest.mark.parametrize(
    ("kind", "celsius", "alert"),
    [
        ("contact", "37.9", False),
        ("contact", "38.0", True),
        ("index", "39.4", False),
        ("index", "39.5", True),
    ],
)
def test_temperature_thresholds_by_kind(kind: str, celsius: str, alert: bool) -> None:
    assert (Rule.TEMPERATURE in rules_hit(kind, reading(temperature_c=Decimal(celsius)))) is alert


def test_symptomatic_any_one_or_any_two() -> None:
    assert Rule.SYMPTOMATIC in rules_hit("index", reading(symptoms=("taste_loss",)))
    assert Rule.SYMPTOMATIC not in rules_hit("index", reading(symptoms=("headache",)))
    assert Rule.SYMPTOMATIC in rules_hit("index", reading(symptoms=("headache", "chills")))


def test_red_flags_are_urgent_at_once() -> None:
    findings = evaluate(DEFAULT_RULES, "index", reading(symptoms=("chest_pain",)), [])
    red = [f for f in findings if f.rule is Rule.RED_FLAG]
    assert red and red[0].severity == "urgent" and red[0].weight == Decimal("2.8")


def test_the_first_characteristic_symptom_of_a_contact() -> None:
    first = reading(symptoms=("cough",))
    assert Rule.FIRST_SYMPTOM in rules_hit("contact", first)
    assert Rule.FIRST_SYMPTOM not in rules_hit("index", first)
    earlier = reading(date(2026, 11, 25), symptoms=("smell_loss",))
    assert Rule.FIRST_SYMPTOM not in rules_hit("contact", first, [earlier])


def test_two_prompts_a_day_the_evening_knows_the_mornings_symptom() -> None:
    """Other entries of the same day count as earlier for the first symptom (the service
    leaves out only the entry being stored)."""
    day = date(2026, 11, 26)
    morning = reading(day, symptoms=("cough",))
    evening = reading(day, symptoms=("cough", "smell_loss"))
    assert Rule.FIRST_SYMPTOM in rules_hit("contact", morning)
    assert Rule.FIRST_SYMPTOM not in rules_hit("contact", evening, [morning])
    # A later day's entry is not "before" a corrected earlier one.
    tomorrow = reading(date(2026, 11, 27), symptoms=("cough",))
    assert Rule.FIRST_SYMPTOM in rules_hit("contact", morning, [tomorrow])


def test_two_worse_entries_of_one_day_are_one_day() -> None:
    day = date(2026, 11, 26)
    morning, evening = reading(day, trend="worse"), reading(day, trend="worse")
    assert Rule.WORSENING not in rules_hit("contact", evening, [morning])
    yesterday = reading(date(2026, 11, 25), trend="worse")
    assert Rule.WORSENING in rules_hit("contact", evening, [morning, yesterday])


def test_worse_on_consecutive_days_across_daylight_saving() -> None:
    # Clocks went forward in the night to 29 March 2026: still consecutive days.
    saturday = reading(date(2026, 3, 28), trend="worse")
    sunday = reading(date(2026, 3, 29), trend="worse")
    assert Rule.WORSENING in rules_hit("contact", sunday, [saturday])
    assert Rule.WORSENING not in rules_hit("contact", saturday)  # one day is not two
    gap = reading(date(2026, 3, 27), trend="worse")
    assert Rule.WORSENING not in rules_hit("contact", sunday, [gap])
    same = reading(date(2026, 3, 28), trend="same")
    assert Rule.WORSENING not in rules_hit("contact", sunday, [same])


def test_non_reporting_exactly_at_the_limit() -> None:
    last = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert non_reporting_since(DEFAULT_RULES, last, last + timedelta(hours=24)) is not None
    almost = last + timedelta(hours=24) - timedelta(seconds=1)
    assert non_reporting_since(DEFAULT_RULES, last, almost) is None


def test_feeling_well_raises_nothing() -> None:
    assert evaluate(DEFAULT_RULES, "contact", Reading(date(2026, 11, 26), True), []) == []


REGION = """
[[regions]]
id = "de-x"
name = "X"
timezone = "Europe/Berlin"
languages = ["de"]
prompt_times = ["09:00"]
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "regions.toml"
    path.write_text(body)
    return path


def test_overrides_and_inheritance(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[rules]
worsening_days = 3
[rules.alerting.temperature]
severity = "urgent"
"""
        + REGION
        + """
[regions.rules]
temperature_above = { contact = 38.5 }
non_reporting_hours = 36
"""
        + REGION.replace("de-x", "de-y"),
    )
    regions = load_regions(path)
    x, y = regions["de-x"].rules, regions["de-y"].rules
    assert x.temperature_above == {"contact": Decimal("38.5"), "index": Decimal("39.4")}
    assert x.non_reporting_hours == 36 and y.non_reporting_hours == 24
    assert x.worsening_days == y.worsening_days == 3  # the file's [rules], inherited by both
    assert x.alerting[Rule.TEMPERATURE].severity == "urgent"
    assert x.alerting[Rule.TEMPERATURE].weight == DEFAULT_RULES.alerting[Rule.TEMPERATURE].weight
    assert x.red_flags == DEFAULT_RULES.red_flags


def test_a_shorter_symptom_list_narrows_the_inherited_rules(tmp_path: Path) -> None:
    path = write(tmp_path, REGION + 'symptoms = ["cough", "fever", "chills", "chest_pain"]\n')
    rules = load_regions(path)["de-x"].rules
    assert rules.red_flags == ("chest_pain",)
    assert [g.of for g in rules.symptomatic] == [("cough",), ("fever", "chills")]


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("temperature_above = { contact = 45 }", "rule 'temperature_above', field 'contact'"),
        ("temperature_above = { adult = 38 }", "rule 'temperature_above', field 'adult'"),
        ("worsening_days = 0", "rule 'worsening_days'"),
        (
            'red_flags = ["hiccups"]',
            "rule 'red_flags': 'hiccups' is not among the region's symptoms",
        ),
        ("symptomatic = [{ any = 3, of = ['cough'] }]", "rule 'symptomatic', field '0'"),
        (
            "[regions.rules.alerting.red_flag]\nseverity = 'panic'",
            "rule 'alerting', field 'red_flag.severity'",
        ),
        ("colour = 'red'", "rule 'colour'"),
    ],
)
def test_invalid_rules_name_region_rule_and_field(
    tmp_path: Path, section: str, expected: str
) -> None:
    body = REGION + ("[regions.rules]\n" if not section.startswith("[") else "") + section + "\n"
    with pytest.raises(RegionsFileError) as raised:
        load_regions(write(tmp_path, body))
    message = str(raised.value)
    assert "region 'de-x'" in message and expected in message, message


def test_what_a_reading_can_raise_is_known_without_its_history() -> None:
    """may_raise and history_matters decide what the answer's transaction reads and queues
    (services.alert_checks): they must agree with evaluate for every reading and history."""
    import itertools
    from datetime import date, timedelta
    from decimal import Decimal

    from backend.domain.rules import DEFAULT_RULES, Reading, evaluate, history_matters, may_raise

    day = date(2026, 11, 26)
    symptom_sets = [(), ("cough",), ("fatigue",), ("fatigue", "headache"), ("chest_pain",)]
    readings = [
        Reading(day, well, symptoms, temperature, trend)
        for well, symptoms, temperature, trend in itertools.product(
            (True, False),
            symptom_sets,
            (None, Decimal("37.0"), Decimal("38.5"), Decimal("39.6")),
            (None, "better", "same", "worse"),
        )
    ]
    histories = [
        [],
        [Reading(day - timedelta(days=1), False, ("cough",), None, "worse")],
        [Reading(day - timedelta(days=n), False, (), None, "worse") for n in (1, 2)],
    ]
    for kind in ("contact", "index"):
        for reading in readings:
            found = [evaluate(DEFAULT_RULES, kind, reading, h) for h in histories]
            if not may_raise(DEFAULT_RULES, kind, reading):
                assert found == [[], [], []], reading
            if not history_matters(DEFAULT_RULES, kind, reading):
                assert all(f == found[0] for f in found), reading
