"""The regions file (TOML): one health authority per ``[[regions]]`` table.

Errors stop start-up with one sentence naming the file, the region and the field.
"""

from __future__ import annotations

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backend.config.rules import RulesError, apply_rules
from backend.domain.regions import Region
from backend.domain.rules import DEFAULT_RULES
from backend.domain.symptoms import DEFAULT_SYMPTOMS, SYMPTOMS_BY_CODE, Symptom
from backend.i18n import shipped_languages


class RegionsFileError(ValueError):
    """The regions file cannot be used; the message is one sentence."""


_ID = r"^[a-z0-9][a-z0-9-]{1,31}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _CustomSymptom(BaseModel):
    """An authority's own symptom, labelled in its languages (English is the fallback)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,23}$")
    group: Literal["characteristic", "general", "red_flag"] = "general"
    labels: dict[str, str] = Field(min_length=1)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if "en" not in value:
            raise ValueError("needs an English label (en), the fallback for other languages")
        for language, label in value.items():
            if not 1 <= len(label.strip()) <= 40:
                raise ValueError(f"the {language!r} label must have 1 to 40 characters")
        return value

    def to_symptom(self) -> Symptom:
        return Symptom(
            self.code, self.labels["en"], self.group, labels=tuple(sorted(self.labels.items()))
        )


class _RegionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1, max_length=200)
    timezone: str
    languages: list[str] = Field(min_length=1)
    prompt_times: list[str] = Field(min_length=1, max_length=6)
    authority_chat_id: int | None = None
    activation_code_hours: int = Field(default=72, ge=1, le=24 * 30)
    reminder_after_minutes: int = Field(default=180, ge=15, le=12 * 60)
    symptoms: list[str] | None = Field(default=None, min_length=1, max_length=30)
    custom_symptoms: list[_CustomSymptom] = Field(default_factory=list, max_length=20)
    correction_hours: int | None = Field(default=None, ge=1, le=72)
    contact: str | None = Field(default=None, min_length=3, max_length=300)
    retention_days: int = Field(default=30, ge=1, le=3650)
    emergency_number: str = Field(default="112", pattern=r"^[0-9+][0-9 ]{1,19}$")
    rules: dict[str, Any] | None = None  # checked by backend.config.rules

    @model_validator(mode="after")
    def _known_symptoms(self) -> _RegionModel:
        known = set(SYMPTOMS_BY_CODE) | {s.code for s in self.custom_symptoms}
        for code in self.symptoms or ():
            if code not in known:
                raise ValueError(
                    f"symptoms lists {code!r}, which is neither shipped nor a custom_symptoms code"
                )
        clashes = {s.code for s in self.custom_symptoms} & set(SYMPTOMS_BY_CODE)
        if clashes:
            raise ValueError(
                f"custom_symptoms redefines the shipped symptom {sorted(clashes)[0]!r}"
            )
        return self

    def _symptom_list(self) -> tuple[Symptom, ...]:
        custom = {s.code: s.to_symptom() for s in self.custom_symptoms}
        if self.symptoms is None:
            return DEFAULT_SYMPTOMS + tuple(custom.values())
        return tuple(custom.get(code) or SYMPTOMS_BY_CODE[code] for code in self.symptoms)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError(f"unknown IANA time zone {value!r}")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError:
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("languages")
    @classmethod
    def _shipped(cls, value: list[str]) -> list[str]:
        shipped = shipped_languages()
        for language in value:
            if language not in shipped:
                raise ValueError(
                    f"language {language!r} has no catalog (shipped: {', '.join(shipped)})"
                )
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @field_validator("prompt_times")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _HHMM.match(item):
                raise ValueError(f"{item!r} is not a time of day like '09:00'")
        if len(set(value)) != len(value):
            raise ValueError("a prompt time is listed twice")
        return value

    def to_region(self, file_rules: Any = None) -> Region:
        symptoms = self._symptom_list()
        codes = [s.code for s in symptoms]
        try:
            inherited = apply_rules(DEFAULT_RULES, file_rules, codes)
        except RulesError as error:
            raise RulesError(error.rule, error.field, f"(in the file's [rules]) {error}") from None
        return Region(
            id=self.id,
            name=self.name,
            timezone=self.timezone,
            languages=tuple(self.languages),
            prompt_times=tuple(sorted(time.fromisoformat(t) for t in self.prompt_times)),
            authority_chat_id=self.authority_chat_id,
            activation_code_hours=self.activation_code_hours,
            reminder_after_minutes=self.reminder_after_minutes,
            symptoms=symptoms,
            rules=apply_rules(inherited, self.rules, codes),
            correction_hours=self.correction_hours,
            contact=self.contact,
            retention_days=self.retention_days,
            emergency_number=self.emergency_number,
        )


def _sentence(path: Path, where: str, error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(table)"
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: {where}, field {field!r}: {message}."


def parse_regions(data: dict[str, Any], path: Path) -> dict[str, Region]:
    entries = data.get("regions")
    if not isinstance(entries, list) or not entries:
        raise RegionsFileError(f"{path}: needs at least one [[regions]] table.")
    unknown = set(data) - {"regions", "rules"}
    if unknown:
        raise RegionsFileError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}.")
    regions: dict[str, Region] = {}
    for position, entry in enumerate(entries, start=1):
        where = f"region {entry.get('id', f'#{position}')!r}" if isinstance(entry, dict) else ""
        try:
            region = _RegionModel.model_validate(entry).to_region(data.get("rules"))
        except ValidationError as error:
            raise RegionsFileError(_sentence(path, where or f"region #{position}", error)) from None
        except RulesError as error:
            field = f", field {error.field!r}" if error.field else ""
            raise RegionsFileError(
                f"{path}: {where}, rule {error.rule!r}{field}: {error.message}."
            ) from None
        if region.id in regions:
            raise RegionsFileError(f"{path}: region {region.id!r} is defined twice.")
        regions[region.id] = region
    return regions


def load_regions(path: Path) -> dict[str, Region]:
    """Read and validate the regions file; raise ``RegionsFileError`` with one sentence."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegionsFileError(f"{path}: cannot be read ({exc.strerror}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegionsFileError(f"{path}: is not valid TOML ({exc}).") from None
    return parse_regions(data, path)
