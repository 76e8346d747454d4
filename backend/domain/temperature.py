"""Reading a body temperature typed by a tired person in any natural form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Plausible body temperatures; outside this range we ask again rather than store a typo.
MIN_C = Decimal("34.0")
MAX_C = Decimal("43.0")

_PATTERN = re.compile(
    r"^\s*(?P<number>\d{2,3}(?:[.,]\d{1,2})?)\s*(?:°|º|deg|grad)?\s*(?P<unit>c|f|celsius|fahrenheit)?\s*$",
    re.IGNORECASE,
)
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class TemperatureReading:
    celsius: Decimal  # rounded to one decimal
    plausible: bool  # within MIN_C..MAX_C


def parse_temperature(text: str) -> TemperatureReading | None:
    """Parse ``38.5``, ``38,5``, ``38.5 °C``, ``101.3 F``; None when it is not a temperature.

    A number without a unit from 90 to 115 is read as Fahrenheit: nobody alive has 90 °C, and
    people used to Fahrenheit often leave the unit out.
    """
    match = _PATTERN.match(text or "")
    if not match:
        return None
    try:
        value = Decimal(match.group("number").replace(",", "."))
    except InvalidOperation:
        return None
    unit = (match.group("unit") or "").lower()[:1]
    if unit == "f" or (not unit and Decimal(90) <= value <= Decimal(115)):
        value = (value - 32) * 5 / 9
    celsius = value.quantize(_TENTH, rounding=ROUND_HALF_UP)
    return TemperatureReading(celsius=celsius, plausible=MIN_C <= celsius <= MAX_C)
