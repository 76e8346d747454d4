"""Forms: read into the API's own request models (one validation for both), and problems
shown beside the field they are about, in the member's language."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError

from backend.console.render import N_
from backend.i18n import Translator

M = TypeVar("M", bound=BaseModel)

# The services' and the domain's problems, as they word them (in English, for the API), with
# their message ids here so that the console can show them translated. A problem missing here
# is shown as worded; tests/test_console_forms.py checks that the ones a form can meet are here.
DOMAIN_TEXTS = (
    N_("quarantine_end is before quarantine_start."),
    N_("a quarantine may last at most 60 days after quarantine_start."),
    N_("quarantine_end lies in the past; nothing to monitor."),
    N_("quarantine_start may lie at most 90 days ahead (a typo in the year?)."),
    N_("label must have 1 to 30 characters."),
    N_("the case is closed; reopen it first."),
    N_("the text is empty."),
    N_("the text is longer than 3500 characters."),
    N_("name must have 1 to 200 characters."),
    N_("the last administrator cannot lose the role; name another first."),
)
# pydantic's problems by type: the ones a console form can produce.
PYDANTIC_TEXTS = {
    "missing": N_("Required."),
    "date_from_datetime_parsing": N_("Enter a date."),
    "date_parsing": N_("Enter a date."),
    "date_type": N_("Enter a date."),
    "string_too_long": N_("Too long."),
    "string_too_short": N_("Required."),
    "literal_error": N_("Choose one of the options."),
    "int_parsing": N_("Enter a whole number."),
    "greater_than_equal": N_("The number is too small."),
    "less_than_equal": N_("The number is too large."),
    "value_error": N_("Not accepted."),
    "uuid_parsing": N_("Not accepted."),
}


def values(form: MultiDictProxy[Any], names: Iterable[str]) -> dict[str, str]:
    """The named fields that were filled in, stripped (an empty field is not given)."""
    found = {}
    for name in names:
        value = str(form.get(name, "")).strip()
        if value:
            found[name] = value
    return found


def parse(model: type[M], data: dict[str, Any], t: Translator) -> tuple[M | None, dict[str, str]]:
    """``data`` as ``model``, or the problems by field."""
    try:
        return model.model_validate(data), {}
    except ValidationError as error:
        problems: dict[str, str] = {}
        for item in error.errors(include_url=False):
            field = str(item["loc"][0]) if item["loc"] else "form"
            text = PYDANTIC_TEXTS.get(item["type"])
            problems.setdefault(field, t.gettext(text) if text else item["msg"])
        return None, problems


def problem_text(t: Translator, detail: str) -> str:
    """A service's problem in the member's language, when the console knows its words."""
    return t.gettext(detail)
