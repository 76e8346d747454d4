"""Request bodies, validated by pydantic; the same models will feed the OpenAPI document."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    region: str = Field(min_length=1, max_length=32, description="Region (authority) id")
    kind: Literal["index", "contact"]
    quarantine_start: date = Field(description="Official start, ISO date; day 1 of monitoring")
    quarantine_end: date = Field(description="Last day of quarantine, ISO date")
    language: str | None = Field(
        default=None,
        max_length=8,
        description="Language of the bot's messages; default: the region's",
    )
    staff_reference: str | None = Field(default=None, max_length=64)
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=30,
        description="For a household: whom the prompts are for, e.g. 'Kind 1' (not a name)",
    )


class BroadcastFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["index", "contact"] | None = Field(
        default=None, description="Only index cases, or only contacts"
    )


class BroadcastCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regions: list[str] = Field(min_length=1, max_length=100)
    texts: dict[str, str] = Field(
        min_length=1, description="Text per language code; each person gets their language"
    )
    filter: BroadcastFilter | None = None
    urgent: bool = Field(default=False, description="Also to people who used /stop")


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    comment: str | None = Field(default=None, max_length=500)
