"""Request and response bodies of the staff API, as pydantic models.

They validate what comes in, shape what goes out, and are the OpenAPI document's schemas:
one source for all three.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from backend.domain.staff import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS, MIN_TOKEN_DAYS

Kind = Literal["index", "contact"]
Role = Literal["admin", "staff", "viewer"]


def _has_nul(value: Any) -> bool:
    """U+0000 anywhere in a text, a key or an item: PostgreSQL's TEXT cannot hold it (asyncpg
    raises CharacterNotInRepertoireError), and no real input contains it."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(item) for item in value)
    return False


class _In(BaseModel):
    """Every request body and query string: unknown fields refused, and a NUL character in
    any field (query parameter, body text, list item, map key) a 422 naming that field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("must not contain the NUL character (U+0000).")
        return value


# -- requests ----------------------------------------------------------------------------------


class CaseCreate(_In):
    region: str = Field(min_length=1, max_length=32, description="Region (authority) id")
    kind: Kind
    quarantine_start: date = Field(description="Official start, ISO date; day 1 of monitoring")
    quarantine_end: date = Field(description="Last day of quarantine, ISO date")
    language: str | None = Field(
        default=None,
        max_length=8,
        description=(
            "Language of the bot's messages; default: the person's Telegram language if the bot "
            "speaks it, else the region's (until activation, CaseOut shows the region's)"
        ),
    )
    staff_reference: str | None = Field(default=None, max_length=64)
    label: str | None = Field(
        default=None,
        min_length=1,
        max_length=30,
        description="For a household: whom the prompts are for, e.g. 'Kind 1' (not a name)",
    )


class CaseChange(_In):
    """Only the fields given change; null clears the reference or the label."""

    # Typed without None: the default is never validated, but an explicit null is refused with
    # the field's name (these columns cannot be empty).
    quarantine_start: date = Field(default=None)  # type: ignore[assignment]
    quarantine_end: date = Field(default=None)  # type: ignore[assignment]
    language: str = Field(default=None, min_length=1, max_length=8)  # type: ignore[assignment]
    staff_reference: str | None = Field(default=None, max_length=64)
    label: str | None = Field(default=None, min_length=1, max_length=30)


class CaseMove(_In):
    region: str = Field(min_length=1, max_length=32, description="The region to move the case to")


class CaseQuery(_In):
    region: str | None = Field(default=None, max_length=32)
    status: Literal["registered", "active", "closed"] | None = None
    kind: Kind | None = None
    list: Literal["symptomatic", "non_reporting", "reporting", "closed"] | None = None
    reference: str | None = Field(
        default=None, max_length=64, description="Staff references starting with this"
    )
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=100, ge=1, le=500)


class RegionQuery(_In):
    region: str | None = Field(default=None, max_length=32)


class EscalationQuery(_In):
    region: str | None = Field(default=None, max_length=32)
    status: Literal["open", "claimed", "resolved", "unresolved"] | None = Field(
        default=None, description="unresolved: open and claimed"
    )
    severity: Literal["urgent", "high", "normal"] | None = None


class Resolution(_In):
    comment: str | None = Field(default=None, max_length=500)


class BroadcastFilter(_In):
    kind: Kind | None = Field(default=None, description="Only index cases, or only contacts")


class BroadcastCreate(_In):
    regions: list[str] = Field(min_length=1, max_length=100)
    texts: dict[str, str] = Field(
        min_length=1, description="Text per language code; each person gets their language"
    )
    filter: BroadcastFilter | None = None
    urgent: bool = Field(default=False, description="Also to people who used /stop")


class StaffCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    regions: list[str] = Field(default_factory=list, max_length=100)
    token_days: int = Field(
        default=DEFAULT_TOKEN_DAYS,
        ge=MIN_TOKEN_DAYS,
        le=MAX_TOKEN_DAYS,
        description="Token lifetime in days (every token expires)",
    )


class StaffChange(_In):
    role: Role
    regions: list[str] = Field(
        default_factory=list, max_length=100, description="None for an admin, who has all"
    )


class TokenCreate(_In):
    days: int = Field(
        default=DEFAULT_TOKEN_DAYS,
        ge=MIN_TOKEN_DAYS,
        le=MAX_TOKEN_DAYS,
        description="Lifetime in days (every token expires)",
    )


class AuditQuery(_In):
    staff: UUID | None = None
    case: UUID | None = None
    region: str | None = Field(default=None, max_length=32)
    action: str | None = Field(default=None, max_length=40)
    since: datetime | None = None
    until: datetime | None = None
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=100, ge=1, le=500)


# -- responses ---------------------------------------------------------------------------------


class CaseOut(BaseModel):
    id: UUID
    region: str
    kind: Kind
    status: Literal["registered", "active", "closed"]
    quarantine_start: date
    quarantine_end: date
    language: str
    staff_reference: str | None
    label: str | None
    activated: bool
    stopped: bool = Field(description="The person used /stop")
    reachable: bool = Field(description="False once the person blocked the bot")
    created_at: datetime
    activated_at: datetime | None
    closed_at: datetime | None


class ActivationOut(BaseModel):
    activation_code: str = Field(description="One-time code; shown only now")
    deep_link: str
    code_expires_at: datetime


class CaseCreated(CaseOut, ActivationOut):
    pass


class CaseListed(CaseOut):
    open_weight: float = Field(description="Sum of the weights of the case's open alerts")


class CasePage(BaseModel):
    cases: list[CaseListed]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class EntryOut(BaseModel):
    id: UUID
    local_date: date
    recorded_at: datetime
    feeling_well: bool
    symptoms: list[str]
    temperature_c: float | None
    trend: Literal["better", "same", "worse"] | None
    note: str | None
    corrected_at: datetime | None


class EntriesOut(BaseModel):
    entries: list[EntryOut]


class RoundOut(BaseModel):
    round_id: UUID | None
    prompts: int


class BroadcastOut(BaseModel):
    id: UUID
    regions: list[str]
    urgent: bool
    total: int
    sent: int
    failed: int
    blocked: int = Field(description="The person had blocked the bot")
    cancelled: int = Field(
        description="Withdrawn unsent: the broadcast was cancelled, or the person used /stop"
    )
    pending: int
    started_at: datetime
    first_sent_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None


class EscalationOut(BaseModel):
    id: UUID
    region: str
    case_id: UUID
    rule: str
    severity: Literal["urgent", "high", "normal"]
    weight: float
    status: Literal["open", "claimed", "resolved"]
    reasons: list[dict]
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    resolution: str | None
    case_open_weight: float | None = None


class EscalationsOut(BaseModel):
    escalations: list[EscalationOut]


class LinkCodeOut(BaseModel):
    code: str = Field(description="One-time code; shown only now")
    deep_link: str
    expires_at: datetime


class TokenOut(BaseModel):
    id: UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token; shown only now, only its hash is stored")


class TokensOut(BaseModel):
    tokens: list[TokenOut]


class StaffOut(BaseModel):
    id: UUID
    name: str
    role: Role
    regions: list[str]
    created_at: datetime
    telegram_linked: bool


class StaffListOut(BaseModel):
    staff: list[StaffOut]


class StaffCreated(BaseModel):
    staff: StaffOut
    token: TokenCreated


class AuditEventOut(BaseModel):
    id: UUID
    at: datetime
    staff_id: UUID | None
    staff_name: str | None
    action: str
    region: str
    case_id: UUID | None
    client: str | None
    detail: dict


class AuditPage(BaseModel):
    events: list[AuditEventOut]
    next_cursor: str | None


class FieldError(BaseModel):
    field: str
    pointer: str
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
