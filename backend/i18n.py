"""Message catalogs (babel/gettext) loaded once; one ``Translator`` per language.

Catalogs are read from the ``.po`` files in ``locales/`` and compiled in memory, so a checkout
runs without a separate compile step and no ``.mo`` file is ever committed. Placeholders are
named and filled after translation: ``t.gettext("Day {day}").format(day=3)``.
"""

from __future__ import annotations

import functools
import gettext
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"  # message ids are English; "en" needs no catalog to be complete
# Dates and times for English readers in Europe: "24 November 2026, 18:00", not US style.
FORMAT_LOCALES = {"en": "en_GB"}


@dataclass(frozen=True)
class Translator:
    language: str
    translations: gettext.NullTranslations

    @property
    def locale(self) -> Locale:
        return Locale.parse(FORMAT_LOCALES.get(self.language, self.language))

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def date(self, value: date, format: str = "long") -> str:
        return format_date(value, format=format, locale=self.locale)

    def day_and_month(self, value: date) -> str:
        """ "3 December", "3. Dezember", "3 грудня": the locale's own order and punctuation."""
        return format_skeleton("MMMMd", datetime.combine(value, time()), locale=self.locale)

    def time(self, value: time | datetime) -> str:
        return format_time(value, format="short", locale=self.locale)

    def decimal(self, value: Decimal | float, format: str = "0.0") -> str:
        return format_decimal(value, format=format, locale=self.locale)

    def join(self, items: list[str]) -> str:
        """``a, b and c`` in the person's language."""
        return format_list(items, locale=self.locale) if items else ""

    def decimal_separator(self) -> str:
        return self.locale.number_symbols["latn"]["decimal"]


def shipped_languages(directory: Path = LOCALES_DIR, domain: str = DOMAIN) -> tuple[str, ...]:
    """Languages with a catalog, plus the source language, sorted."""
    found = {p.parent.parent.name for p in directory.glob(f"*/LC_MESSAGES/{domain}.po")}
    return tuple(sorted(found | {SOURCE_LANGUAGE}))


def pick_language(shipped: tuple[str, ...], *candidates: str | None) -> str:
    """The first candidate language that is shipped (``de-AT`` counts as ``de``)."""
    for candidate in candidates:
        if not candidate:
            continue
        base = candidate.replace("_", "-").split("-")[0].lower()
        if base in shipped:
            return base
    return SOURCE_LANGUAGE


def _compile(po_path: Path) -> gettext.GNUTranslations:
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


class Catalogs:
    """All shipped catalogs of a domain, compiled once at start-up: ``messages`` for what
    citizens and authority groups read, ``console`` for the staff console's pages."""

    def __init__(self, directory: Path = LOCALES_DIR, domain: str = DOMAIN):
        self.languages = shipped_languages(directory, domain)
        self._translators: dict[str, Translator] = {}
        for language in self.languages:
            po_path = directory / language / "LC_MESSAGES" / f"{domain}.po"
            translations = _compile(po_path) if po_path.exists() else gettext.NullTranslations()
            self._translators[language] = Translator(language, translations)

    def get(self, language: str | None) -> Translator:
        """The translator for ``language``, or the source language if it is not shipped."""
        return self._translators.get(language or "", self._translators[SOURCE_LANGUAGE])

    def pick(self, *candidates: str | None) -> str:
        return pick_language(self.languages, *candidates)


@functools.cache
def catalogs(directory: Path = LOCALES_DIR, domain: str = DOMAIN) -> Catalogs:
    return Catalogs(directory, domain)
