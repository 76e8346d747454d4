"""Reading a body temperature typed by a tired person in any natural form."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Plausible body temperatures; outside this range we ask again rather than store a typo.
MIN_C = Decimal("34.0")
MAX_C = Decimal("43.0")

# Unit words people type after the number, in the languages we ship (lower case, after NFKC).
_DEGREE_WORDS = (
    "degrees|degree|deg|grad|derece|stopni|stopnie|stopień|stopien|"
    "градусов|градуса|градус|градусів|градуси|درجات|درجة|درجه"
)
_PATTERN = re.compile(
    r"^\s*(?P<number>\d{2,3}(?:[.,]\d{1,2})?)\s*"
    rf"(?:°|º|(?:{_DEGREE_WORDS})(?![^\W\d_]))?\s*"
    r"(?P<unit>c|f|celsius|fahrenheit|цельсия|цельсія|с)?\s*$",
    re.IGNORECASE,
)
_TENTH = Decimal("0.1")
# Arabic decimal separator and the Arabic comma people use for it; NFKC leaves both alone.
_SEPARATORS = str.maketrans({"٫": ".", "،": ","})


@dataclass(frozen=True)
class TemperatureReading:
    celsius: Decimal  # rounded to one decimal
    plausible: bool  # within MIN_C..MAX_C
    # The number as typed when no unit was given and Fahrenheit was guessed: the person is
    # asked once whether that is what they meant (issue 19).
    guessed_fahrenheit: Decimal | None = None


def fahrenheit_to_celsius(value: Decimal) -> Decimal:
    return ((value - 32) * 5 / 9).quantize(_TENTH, rounding=ROUND_HALF_UP)


def _normalise(text: str) -> str:
    """Full-width digits, ℃ and ℉ (NFKC makes them °C and °F), Arabic-Indic digits, and
    no invisible marks (right-to-left marks come with Arabic keyboards)."""
    text = unicodedata.normalize("NFKC", text or "").translate(_SEPARATORS)
    kept = []
    for ch in text:
        if unicodedata.category(ch) == "Cf":
            continue
        digit = unicodedata.digit(ch, None) if not ch.isascii() else None
        kept.append(str(digit) if digit is not None and unicodedata.category(ch) == "Nd" else ch)
    return "".join(kept).lower()


def parse_temperature(text: str) -> TemperatureReading | None:
    """Parse ``38.5``, ``38,5``, ``38.5 °C``, ``101.3 F``, ``٣٨٫٥``, ``38 градусов``; None when
    it is not a temperature.

    A number without a unit from 90 to 115 is read as Fahrenheit: nobody alive has 90 °C, and
    people used to Fahrenheit often leave the unit out. A Cyrillic С is Celsius.
    """
    match = _PATTERN.match(_normalise(text))
    if not match:
        return None
    try:
        value = Decimal(match.group("number").replace(",", "."))
    except InvalidOperation:
        return None
    unit = (match.group("unit") or "")[:1]
    guessed = not unit and Decimal(90) <= value <= Decimal(115)
    if unit == "f" or guessed:
        celsius = fahrenheit_to_celsius(value)
    else:
        celsius = value.quantize(_TENTH, rounding=ROUND_HALF_UP)
    return TemperatureReading(
        celsius=celsius,
        plausible=MIN_C <= celsius <= MAX_C,
        guessed_fahrenheit=value if guessed else None,
    )
