"""Escalation rules: when an answer (or its absence) must reach the health authority.

The rules are data, per region (``Rules``), inheriting the shipped defaults of DOMAIN.md
(Quarano, Sara Alert / CDC). ``evaluate`` is a pure function of the rules, the case's kind,
the new answer and the case's earlier entries; ``non_reporting_since`` decides the absence
rule. Each finding has a severity and a weight: the staff worklist is sorted by the sum of a
case's open weights, as Quarano does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

SEVERITIES = ("urgent", "high", "normal")


class Rule(StrEnum):
    RED_FLAG = "red_flag"
    TEMPERATURE = "temperature"
    SYMPTOMATIC = "symptomatic"
    FIRST_SYMPTOM = "first_symptom"
    WORSENING = "worsening"
    NON_REPORTING = "non_reporting"
    STOPPED = "stopped"  # the person used /stop

    @property
    def about_symptoms(self) -> bool:
        return self in (Rule.RED_FLAG, Rule.TEMPERATURE, Rule.SYMPTOMATIC, Rule.FIRST_SYMPTOM)


@dataclass(frozen=True)
class Alerting:
    severity: str
    weight: Decimal


@dataclass(frozen=True)
class SymptomGroup:
    """Any ``any`` of ``of`` makes a person symptomatic."""

    any: int
    of: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    temperature_above: dict[str, Decimal]  # by case kind: alert above this many °C
    symptomatic: tuple[SymptomGroup, ...]
    red_flags: tuple[str, ...]
    first_symptom: tuple[str, ...]  # characteristic symptoms; the first one of a contact alerts
    first_symptom_kinds: tuple[str, ...]
    worsening_days: int
    non_reporting_hours: int
    alerting: dict[Rule, Alerting]
    repost_urgent_minutes: int  # an unclaimed urgent alert is posted again after this long
    fallback_chat_id: int | None = None

    def red_flags_among(self, symptoms: Sequence[str]) -> list[str]:
        """The red-flag symptoms among ``symptoms``: the person is told whom to call the
        moment one is chosen, and the authority is alerted at once when it is sent."""
        return [code for code in symptoms if code in self.red_flags]


def _alerting(severity: str, weight: str) -> Alerting:
    return Alerting(severity, Decimal(weight))


DEFAULT_RULES = Rules(
    temperature_above={"contact": Decimal("37.9"), "index": Decimal("39.4")},
    symptomatic=(
        SymptomGroup(
            1, ("cough", "breathing_difficulty", "short_breath", "smell_loss", "taste_loss")
        ),
        SymptomGroup(
            2,
            (
                "fever",
                "chills",
                "muscle_pain",
                "headache",
                "sore_throat",
                "nausea_vomiting",
                "diarrhoea",
                "fatigue",
                "congestion",
            ),
        ),
    ),
    red_flags=("breathless_at_rest", "pain_breathing", "chest_pain", "confusion", "bluish_lips"),
    first_symptom=("cough", "breathing_difficulty", "short_breath", "smell_loss", "taste_loss"),
    first_symptom_kinds=("contact",),
    worsening_days=2,
    non_reporting_hours=24,
    # Quarano's weights: medical items 0.7, process items 0.3, times 4 for a red flag and 2
    # for a contact's first symptom.
    alerting={
        Rule.RED_FLAG: _alerting("urgent", "2.8"),
        Rule.FIRST_SYMPTOM: _alerting("high", "1.4"),
        Rule.TEMPERATURE: _alerting("high", "0.7"),
        Rule.SYMPTOMATIC: _alerting("high", "0.7"),
        Rule.WORSENING: _alerting("normal", "0.7"),
        Rule.NON_REPORTING: _alerting("normal", "0.3"),
        Rule.STOPPED: _alerting("normal", "0.3"),
    },
    repost_urgent_minutes=15,
)


@dataclass(frozen=True)
class Reading:
    """One diary entry as the rules see it."""

    local_date: date
    feeling_well: bool
    symptoms: tuple[str, ...] = ()
    temperature_c: Decimal | None = None
    trend: str | None = None


@dataclass(frozen=True)
class Finding:
    rule: Rule
    severity: str
    weight: Decimal
    reasons: tuple[dict, ...] = field(default_factory=tuple)  # plain data, rendered per language


def evaluate(
    rules: Rules, kind: str, reading: Reading, earlier: Sequence[Reading]
) -> list[Finding]:
    """The alerts a new (or corrected) entry raises. ``earlier``: the case's other entries,
    those of the same local date included (several prompts a day), never the entry itself."""
    findings = []

    def found(rule: Rule, *reasons: dict) -> None:
        alerting = rules.alerting[rule]
        findings.append(Finding(rule, alerting.severity, alerting.weight, tuple(reasons)))

    flags = rules.red_flags_among(reading.symptoms)
    if flags:
        found(Rule.RED_FLAG, {"red_flags": flags})
    limit = rules.temperature_above.get(kind)
    if limit is not None and reading.temperature_c is not None and reading.temperature_c > limit:
        found(
            Rule.TEMPERATURE,
            {"temperature": str(reading.temperature_c), "limit": str(limit), "kind": kind},
        )
    for group in rules.symptomatic:
        present = [code for code in reading.symptoms if code in group.of]
        if len(present) >= group.any:
            found(Rule.SYMPTOMATIC, {"any": group.any, "symptoms": present})
            break
    first = _first_symptoms(rules, kind, reading)
    if first:
        before = any(
            code in rules.first_symptom
            for entry in earlier
            if entry.local_date <= reading.local_date
            for code in entry.symptoms
        )
        if not before:
            found(Rule.FIRST_SYMPTOM, {"symptoms": first})
    if _worse_days_in_a_row(reading, earlier) >= rules.worsening_days:
        found(Rule.WORSENING, {"days": rules.worsening_days})
    return findings


def may_raise(rules: Rules, kind: str, reading: Reading) -> bool:
    """Whether ``evaluate`` could find anything in this reading, whatever came before: what it
    finds without earlier entries (earlier entries can only take the first-symptom rule away),
    or a day that feels worse (earlier worse days can add the worsening rule). A person who is
    well raises nothing, which is most of the morning's answers."""
    return bool(evaluate(rules, kind, reading, ())) or reading.trend == "worse"


def history_matters(rules: Rules, kind: str, reading: Reading) -> bool:
    """Whether ``evaluate`` would look at the earlier entries for this reading at all: only
    the first-symptom rule (a reading with a characteristic symptom) and the worsening rule (a
    reading that feels worse) do. Otherwise the earlier entries need not be read, which keeps
    the morning's thousands of one-tap "all well" answers from reading the diary: under
    SERIALIZABLE, every such read is a chance to conflict with another person's answer."""
    return bool(_first_symptoms(rules, kind, reading)) or reading.trend == "worse"


def _first_symptoms(rules: Rules, kind: str, reading: Reading) -> list[str]:
    """The reading's characteristic symptoms, for a kind of case whose first one alerts."""
    if kind not in rules.first_symptom_kinds:
        return []
    return [code for code in reading.symptoms if code in rules.first_symptom]


def _worse_days_in_a_row(reading: Reading, earlier: Sequence[Reading]) -> int:
    """Consecutive local dates, ending with this entry's, on which the person felt worse.

    Local dates, not 24-hour steps: a day is a day across a daylight-saving change. Other
    entries of the reading's own date do not add a day (the count starts at the day before),
    so two prompts a day cannot make one bad day look like two.
    """
    worse_on = {e.local_date for e in earlier if e.trend == "worse"}
    if reading.trend != "worse":
        return 0
    days, day = 1, reading.local_date
    while (day := day - timedelta(days=1)) in worse_on:
        days += 1
    return days


def non_reporting_since(rules: Rules, last_activity: datetime, now: datetime) -> Finding | None:
    """No entry since ``last_activity`` (the last entry, else the activation) for as long as
    the region allows: an alert, exactly at the limit too."""
    silent = now - last_activity
    if silent < timedelta(hours=rules.non_reporting_hours):
        return None
    alerting = rules.alerting[Rule.NON_REPORTING]
    hours = int(silent.total_seconds() // 3600)
    return Finding(Rule.NON_REPORTING, alerting.severity, alerting.weight, ({"hours": hours},))
