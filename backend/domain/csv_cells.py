"""CSV cells that a spreadsheet opens as data, never as a formula.

Exports go to health-authority staff who open them in Excel or LibreOffice; a note or staff
reference typed as ``=HYPERLINK(...)`` would otherwise run as a formula there (CSV injection,
OWASP). Text starting with a formula trigger gets a leading single quote, which spreadsheets
show as text and do not evaluate. Numbers, dates and booleans are passed on as they are: they
are not user-typed, and a negative temperature must stay a number.
"""

from __future__ import annotations

from typing import Any

# = + - @ start a formula; TAB and CR are stripped by some importers, exposing what follows.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """The value to write into a CSV cell: None as empty, text defused, anything else as is."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
