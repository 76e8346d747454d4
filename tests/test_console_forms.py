"""The services' and the domain's problems that a console form can meet are known to the
console (backend/console/forms.py), so that they are shown in German too: if a rule's wording
changes, this fails until the console's list and catalog follow."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.console.forms import DOMAIN_TEXTS
from backend.domain.broadcasts import MAX_TEXT, validate_texts
from backend.domain.cases import NewCase, validate_new_case
from backend.domain.errors import Invalid
from backend.domain.regions import Region
from backend.i18n import catalogs
from backend.services.staff import LAST_ADMIN

TODAY = date(2030, 6, 1)  # the rules are pure: any day does


def _case(**changes: object) -> NewCase:
    values = {
        "region": "r",
        "kind": "contact",
        "quarantine_start": TODAY,
        "quarantine_end": TODAY + timedelta(days=10),
        "language": "de",
    } | changes
    return NewCase(**values)  # type: ignore[arg-type]


def _problems() -> list[str]:
    found = []
    for case in [
        _case(quarantine_end=TODAY - timedelta(days=1)),
        _case(quarantine_end=TODAY + timedelta(days=61)),
        _case(quarantine_start=TODAY - timedelta(days=20), quarantine_end=TODAY - timedelta(1)),
        _case(quarantine_start=TODAY + timedelta(days=91), quarantine_end=TODAY + timedelta(99)),
        _case(label="x" * 31),
    ]:
        with pytest.raises(Invalid) as raised:
            validate_new_case(case, TODAY, ("de", "en"))
        found.append(raised.value.detail)
    region = Region("r", "R", "Europe/Berlin", ("de",), ())
    for texts in ({"de": " "}, {"de": "x" * (MAX_TEXT + 1)}):
        with pytest.raises(Invalid) as raised:
            validate_texts(texts, [region], ("de", "en"))
        found.append(raised.value.detail)
    found.append(LAST_ADMIN)  # the administration page's role change
    return found


def test_every_problem_a_form_meets_is_known_and_translated() -> None:
    german = catalogs(domain="console").get("de")
    for problem in _problems():
        assert problem in DOMAIN_TEXTS, problem
        assert german.gettext(problem) != problem, f"no German for {problem!r}"
