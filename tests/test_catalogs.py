"""Catalogs: the template matches the code, every shipped catalog translates every message,
placeholders survive translation, and every reply renders in every language."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from backend.i18n import LOCALES_DIR, catalogs, shipped_languages
from bot.texts import NOTICES, REPLIES
from bot.texts_commands import privacy

PLACEHOLDER = re.compile(r"\{(\w*)\}")
TRANSLATED = [lang for lang in shipped_languages() if lang != "en"]


def read(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def message_ids(catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


def test_seven_languages_are_shipped() -> None:
    assert set(shipped_languages()) == {"de", "en", "tr", "ar", "ru", "uk", "pl"}


def test_templates_match_the_code(tmp_path: Path, repo_root: Path) -> None:
    fresh, console = tmp_path / "messages.pot", tmp_path / "console.pot"
    # The Makefile's own extraction commands, writing to scratch files.
    subprocess.run(
        ["make", "-s", "locales-extract", f"POT={fresh}", f"CONSOLE_POT={console}"],
        cwd=repo_root,
        check=True,
    )
    for made, kept in ((fresh, "messages.pot"), (console, "console.pot")):
        assert message_ids(read(made)) == message_ids(read(LOCALES_DIR / kept)), (
            f"locales/{kept} is out of date: run `make locales` and translate"
        )


def test_the_console_speaks_german_completely() -> None:
    """Every console text has a German translation with the same placeholders."""
    template = read(LOCALES_DIR / "console.pot")
    catalog = read(LOCALES_DIR / "de" / "LC_MESSAGES" / "console.po")
    problems = []
    for message in template:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        found = catalog.get(message.id)
        strings = (
            found.string
            if found and isinstance(found.string, tuple)
            else ((found.string,) if found else ())
        )
        if not strings or not all(strings):
            problems.append(f"untranslated: {ids[0]!r}")
            continue
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if set(PLACEHOLDER.findall(string)) != wanted:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalog_is_complete_with_the_same_placeholders(language: str) -> None:
    template = read(LOCALES_DIR / "messages.pot")
    catalog = read(LOCALES_DIR / language / "LC_MESSAGES" / "messages.po")
    problems = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = (
            translated.string
            if translated and isinstance(translated.string, tuple)
            else (translated.string,)
            if translated
            else ()
        )
        if not translated or not all(strings) or translated.fuzzy:
            problems.append(f"missing: {ids[0]!r}")
            continue
        expected = sorted(PLACEHOLDER.findall(ids[0]))
        for string in strings:
            if sorted(PLACEHOLDER.findall(string)) != expected:
                problems.append(f"placeholders differ: {ids[0]!r} -> {string!r}")
    assert not problems, f"{language}: " + "; ".join(problems)


@pytest.mark.parametrize("language", shipped_languages())
def test_every_reply_renders(language: str) -> None:
    t = catalogs().get(language)
    now = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    params = {
        "authority": "Gesundheitsamt",
        "start": "2026-11-24",
        "end": "2026-12-07",
        "times": ["08:00", "18:00"],
        "next": "2026-11-26T18:00:00+01:00",
        "registered": True,
        "value": "45.0",
    }
    for name, render in REPLIES.items():
        text = render(t, params, now)
        assert text and "{" not in text, (name, text)
    for notice in NOTICES.values():
        assert t.gettext(notice)


@pytest.mark.parametrize("language", shipped_languages())
def test_privacy_without_a_contact_names_the_authority(language: str) -> None:
    t = catalogs().get(language)
    now = datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    text = privacy(t, {"authority": "Gesundheitsamt X", "retention_days": 30}, now)
    # Named twice: as the authority, and as the one who will contact them.
    assert text.count("Gesundheitsamt X") == 2, text
