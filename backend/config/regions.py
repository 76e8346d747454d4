"""The regions file (TOML): one health authority per ``[[regions]]`` table.

Errors stop start-up with one sentence naming the file, the region and the field.
"""

from __future__ import annotations

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from backend.domain.regions import Region
from backend.i18n import shipped_languages


class RegionsFileError(ValueError):
    """The regions file cannot be used; the message is one sentence."""


_ID = r"^[a-z0-9][a-z0-9-]{1,31}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


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

    def to_region(self) -> Region:
        return Region(
            id=self.id,
            name=self.name,
            timezone=self.timezone,
            languages=tuple(self.languages),
            prompt_times=tuple(sorted(time.fromisoformat(t) for t in self.prompt_times)),
            authority_chat_id=self.authority_chat_id,
            activation_code_hours=self.activation_code_hours,
            reminder_after_minutes=self.reminder_after_minutes,
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
    unknown = set(data) - {"regions"}
    if unknown:
        raise RegionsFileError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}.")
    regions: dict[str, Region] = {}
    for position, entry in enumerate(entries, start=1):
        where = f"region {entry.get('id', f'#{position}')!r}" if isinstance(entry, dict) else ""
        try:
            region = _RegionModel.model_validate(entry).to_region()
        except ValidationError as error:
            raise RegionsFileError(_sentence(path, where or f"region #{position}", error)) from None
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
