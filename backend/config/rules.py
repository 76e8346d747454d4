"""The ``rules`` sections of the regions file: a region's escalation rules over the file's
``[rules]`` over the shipped defaults (``backend.domain.rules.DEFAULT_RULES``).

Only what a section names is overridden: ``temperature_above`` and ``alerting`` per key,
everything else as a whole. A mistake stops start-up with one sentence naming the region, the
rule and the field.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend.domain.rules import Alerting, Rule, Rules, SymptomGroup


class RulesError(ValueError):
    def __init__(self, rule: str, field: str | None, message: str):
        super().__init__(message)
        self.rule, self.field, self.message = rule, field, message


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")
    any: int = Field(ge=1)
    of: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _reachable(self) -> _Group:
        if self.any > len(self.of):
            raise ValueError(f"any = {self.any} but only {len(self.of)} symptoms are listed")
        return self


class _Alerting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Literal["urgent", "high", "normal"] | None = None
    weight: Decimal | None = Field(default=None, ge=0, le=10)


class _RulesSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature_above: dict[Literal["index", "contact"], Decimal] | None = None
    symptomatic: list[_Group] | None = None
    red_flags: list[str] | None = None
    first_symptom: list[str] | None = None
    first_symptom_kinds: list[Literal["index", "contact"]] | None = None
    worsening_days: int | None = Field(default=None, ge=1, le=14)
    non_reporting_hours: int | None = Field(default=None, ge=1, le=168)
    alerting: dict[Rule, _Alerting] | None = None
    repost_urgent_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    fallback_chat_id: int | None = None


def apply_rules(base: Rules, data: Any, symptoms: Collection[str]) -> Rules:
    """``base`` with the overrides in ``data`` (a TOML table); raise ``RulesError``."""
    base = _restricted(base, symptoms)
    if data is None:
        return base
    if not isinstance(data, dict):
        raise RulesError("rules", None, "must be a table of rules")
    try:
        section = _RulesSection.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        rule = str(first["loc"][0]) if first["loc"] else "rules"
        field = ".".join(str(part) for part in first["loc"][1:] if part != "[key]") or None
        raise RulesError(rule, field, first["msg"].removeprefix("Value error, ")) from None
    for name, limit in (section.temperature_above or {}).items():
        if not Decimal(35) <= limit <= Decimal(43):
            raise RulesError("temperature_above", name, f"{limit} °C is not a body temperature")
    rules = replace(
        base,
        temperature_above={**base.temperature_above, **(section.temperature_above or {})},
        alerting=_alerting(base, section),
        **{
            name: value
            for name, value in {
                "symptomatic": section.symptomatic
                and tuple(SymptomGroup(g.any, tuple(g.of)) for g in section.symptomatic),
                "red_flags": section.red_flags and tuple(section.red_flags),
                "first_symptom": section.first_symptom and tuple(section.first_symptom),
                "first_symptom_kinds": section.first_symptom_kinds
                and tuple(section.first_symptom_kinds),
                "worsening_days": section.worsening_days,
                "non_reporting_hours": section.non_reporting_hours,
                "repost_urgent_minutes": section.repost_urgent_minutes,
                "fallback_chat_id": section.fallback_chat_id,
            }.items()
            if value is not None
        },
    )
    _check_symptoms(section, symptoms)
    return rules


def _alerting(base: Rules, section: _RulesSection) -> dict[Rule, Alerting]:
    merged = dict(base.alerting)
    for rule, change in (section.alerting or {}).items():
        merged[rule] = Alerting(
            change.severity or merged[rule].severity,
            change.weight if change.weight is not None else merged[rule].weight,
        )
    return merged


def _restricted(rules: Rules, symptoms: Collection[str]) -> Rules:
    """Inherited rules, for a region that asks about fewer symptoms, keep only those it asks."""
    groups = []
    for group in rules.symptomatic:
        asked = tuple(code for code in group.of if code in symptoms)
        if len(asked) >= group.any:
            groups.append(SymptomGroup(group.any, asked))
    return replace(
        rules,
        symptomatic=tuple(groups),
        red_flags=tuple(code for code in rules.red_flags if code in symptoms),
        first_symptom=tuple(code for code in rules.first_symptom if code in symptoms),
    )


def _check_symptoms(section: _RulesSection, symptoms: Collection[str]) -> None:
    """A rule naming a symptom the region does not ask about would never fire: say so."""
    named = {
        "red_flags": section.red_flags or (),
        "first_symptom": section.first_symptom or (),
        **{f"symptomatic.{i}.of": g.of for i, g in enumerate(section.symptomatic or ())},
    }
    for where, codes in named.items():
        for code in codes:
            if code not in symptoms:
                rule, _, field = where.partition(".")
                raise RulesError(
                    rule, field or None, f"{code!r} is not among the region's symptoms"
                )
