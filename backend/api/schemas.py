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
