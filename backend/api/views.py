"""JSON shapes of responses. Data minimisation: no chat ids or codes beyond what is asked for."""

from __future__ import annotations

from typing import Any

from backend.domain.cases import Case
from backend.storage.entries import Entry


def case_view(case: Case) -> dict[str, Any]:
    return {
        "id": str(case.id),
        "region": case.region,
        "kind": case.kind,
        "status": case.status,
        "quarantine_start": case.quarantine_start.isoformat(),
        "quarantine_end": case.quarantine_end.isoformat(),
        "language": case.language,
        "staff_reference": case.staff_reference,
        "label": case.label,
        "activated": case.chat_id is not None,
        "created_at": case.created_at.isoformat(),
        "activated_at": case.activated_at.isoformat() if case.activated_at else None,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
    }


def entry_view(entry: Entry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "local_date": entry.local_date.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(),
        "feeling_well": entry.feeling_well,
        "symptoms": list(entry.symptoms),
        "temperature_c": float(entry.temperature_c) if entry.temperature_c is not None else None,
        "trend": entry.trend,
        "note": entry.note,
        "corrected_at": entry.corrected_at.isoformat() if entry.corrected_at else None,
    }
