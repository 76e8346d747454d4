"""Callback data: compact, within 64 bytes, and strict about what it accepts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from backend.domain.symptoms import DEFAULT_SYMPTOMS
from backend.i18n import catalogs
from bot.callbacks import (
    MAX_BYTES,
    LanguageButton,
    QuestionButton,
    StopButton,
    decode,
    encode_language,
    encode_question,
    encode_stop,
)
from bot.views import PAIRED_LABEL, question_view


def test_round_trip_for_every_button() -> None:
    prompt = uuid.uuid4()
    for symptom in DEFAULT_SYMPTOMS:
        data = encode_question(prompt, "tog", symptom.code)
        assert len(data.encode()) <= MAX_BYTES
        assert decode(data) == QuestionButton(prompt, "tog", symptom.code)
    assert decode(encode_question(str(prompt), "well")) == QuestionButton(prompt, "well", None)


def test_menu_buttons_name_their_menu() -> None:
    menu = uuid.uuid4()
    assert decode(encode_stop(True, menu)) == StopButton(True, menu)
    assert decode(encode_stop(False, str(menu))) == StopButton(False, menu)
    assert decode(encode_language("uk", menu)) == LanguageButton("uk", menu)
    assert len(encode_language("ar", menu).encode()) <= MAX_BYTES


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "q",
        "q::well",
        "x:AAAAAAAAAAAAAAAAAAAAAA:well",
        "q:AAAAAAAAAAAAAAAAAAAAA:well",  # 21 characters
        "q:AAAAAAAAAAAAAAAAAAAA!!:well",
        "q:AAAAAAAAAAAAAAAAAAAAAA:well:x:y",
        "q:AAAAAAAAAAAAAAAAAAAAAA:we ll",
        "q:AAAAAAAAAAAAAAAAAAAAAA:" + "a" * 60,
        "' OR 1=1 --",
        "s:y",  # a menu button that names no menu
        "s:n",
        "l:de",
        "s:y:AAAA",
        "s:x:AAAAAAAAAAAAAAAAAAAAAA",
        "l:de:AAAAAAAAAAAAAAAAAAAAA!",
    ],
)
def test_garbage_is_rejected(data: str | None) -> None:
    assert decode(data) is None


def test_too_long_data_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        encode_question(uuid.uuid4(), "tog", "x" * 40)


@pytest.mark.parametrize("language", ["de", "en", "tr", "ar", "ru", "uk", "pl"])
def test_long_symptom_labels_get_a_row_of_their_own(language: str) -> None:
    t = catalogs().get(language)
    view = {"prompt": str(uuid.uuid4()), "step": "symptoms", "date": "2026-11-26"}
    _, keyboard = question_view(t, view, datetime(2026, 11, 26, tzinfo=UTC))
    rows = keyboard.inline_keyboard[:-1]  # the last row: "None of these", "Done"
    labels = [b.text for row in rows for b in row]
    assert len(labels) == len(DEFAULT_SYMPTOMS)
    for row in rows:
        assert len(row) <= 2
        if len(row) == 2:
            assert all(len(b.text) - 3 <= PAIRED_LABEL for b in row), [b.text for b in row]
