"""Callback data: compact, within 64 bytes, and strict about what it accepts."""

from __future__ import annotations

import uuid

import pytest

from backend.domain.symptoms import DEFAULT_SYMPTOMS
from bot.callbacks import MAX_BYTES, QuestionButton, decode, encode_question


def test_round_trip_for_every_button() -> None:
    prompt = uuid.uuid4()
    for symptom in DEFAULT_SYMPTOMS:
        data = encode_question(prompt, "tog", symptom.code)
        assert len(data.encode()) <= MAX_BYTES
        assert decode(data) == QuestionButton(prompt, "tog", symptom.code)
    assert decode(encode_question(str(prompt), "well")) == QuestionButton(prompt, "well", None)


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
    ],
)
def test_garbage_is_rejected(data: str | None) -> None:
    assert decode(data) is None


def test_too_long_data_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        encode_question(uuid.uuid4(), "tog", "x" * 40)
