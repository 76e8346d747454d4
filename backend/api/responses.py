"""Domain objects to response models (backend/api/schemas.py), and JSON responses of them."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web
from pydantic import BaseModel

from backend.api import schemas
from backend.domain.cases import Case
from backend.storage.broadcasts import Broadcast, Progress
from backend.storage.entries import Entry
from backend.storage.escalations import Escalation
from backend.storage.staff import Member, Token


def reply(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status, headers=headers)


def case_out(case: Case) -> dict:
    return {
        "id": case.id,
        "region": case.region,
        "kind": case.kind,
        "status": case.status,
        "quarantine_start": case.quarantine_start,
        "quarantine_end": case.quarantine_end,
        "language": case.language,
        "staff_reference": case.staff_reference,
        "label": case.label,
        "activated": case.chat_id is not None,
        "stopped": case.stopped_at is not None,
        "reachable": case.unreachable_at is None,
        "created_at": case.created_at,
        "activated_at": case.activated_at,
        "closed_at": case.closed_at,
    }


def case_model(case: Case) -> schemas.CaseOut:
    return schemas.CaseOut(**case_out(case))


def listed(case: Case, weight: Decimal) -> schemas.CaseListed:
    return schemas.CaseListed(**case_out(case), open_weight=float(weight))


def entry_model(entry: Entry) -> schemas.EntryOut:
    return schemas.EntryOut(
        id=entry.id,
        local_date=entry.local_date,
        recorded_at=entry.recorded_at,
        feeling_well=entry.feeling_well,
        symptoms=list(entry.symptoms),
        temperature_c=float(entry.temperature_c) if entry.temperature_c is not None else None,
        trend=entry.trend,
        note=entry.note,
        corrected_at=entry.corrected_at,
    )


def broadcast_model(b: Broadcast, p: Progress) -> schemas.BroadcastOut:
    return schemas.BroadcastOut(
        id=b.id,
        regions=list(b.regions),
        urgent=b.urgent,
        total=p.total,
        sent=p.sent,
        failed=p.failed,
        blocked=p.blocked,
        cancelled=p.cancelled,
        pending=p.pending,
        started_at=b.created_at,
        first_sent_at=p.first_sent_at,
        finished_at=p.last_done_at if p.pending == 0 and p.last_done_at else None,
        cancelled_at=b.cancelled_at,
    )


def escalation_model(e: Escalation, case_weight: Decimal | None = None) -> schemas.EscalationOut:
    return schemas.EscalationOut(
        id=e.id,
        region=e.region,
        case_id=e.case_id,
        rule=e.rule,
        severity=e.severity,
        weight=float(e.weight),
        status=e.status,
        reasons=e.reasons,
        created_at=e.created_at,
        updated_at=e.updated_at,
        claimed_by=e.claimed_by_name,
        claimed_at=e.claimed_at,
        resolved_by=e.resolved_by_name,
        resolved_at=e.resolved_at,
        resolution=e.resolution,
        case_open_weight=float(case_weight) if case_weight is not None else None,
    )


def token_model(token: Token) -> schemas.TokenOut:
    return schemas.TokenOut(
        id=token.id,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
    )


def staff_model(member: Member) -> schemas.StaffOut:
    return schemas.StaffOut(
        id=member.id,
        name=member.name,
        role=member.role,
        regions=list(member.regions),
        created_at=member.created_at,
        telegram_linked=member.telegram_linked,
    )
