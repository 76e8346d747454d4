"""The default symptom list (DOMAIN.md): characteristic, general and red-flag symptoms.

Codes are stable identifiers stored in diary entries and used in escalation rules; labels are
English message ids translated through the catalogs in ``locales/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backend.domain.translatable import N_


@dataclass(frozen=True)
class Symptom:
    code: str
    label: str  # English message id; translated through the catalogs when rendered
    group: str  # "characteristic", "general" or "red_flag"
    # An authority's own symptom carries its labels per language instead of a catalog entry.
    labels: tuple[tuple[str, str], ...] = ()

    def label_in(self, language: str, translate: Callable[[str], str]) -> str:
        if not self.labels:
            return translate(self.label)
        own = dict(self.labels)
        return own.get(language) or own.get("en") or self.label


DEFAULT_SYMPTOMS: tuple[Symptom, ...] = (
    Symptom("cough", N_("Cough"), "characteristic"),
    Symptom("breathing_difficulty", N_("Difficulty breathing"), "characteristic"),
    Symptom("short_breath", N_("Shortness of breath"), "characteristic"),
    Symptom("smell_loss", N_("Loss of smell"), "characteristic"),
    Symptom("taste_loss", N_("Loss of taste"), "characteristic"),
    Symptom("fever", N_("Fever"), "general"),
    Symptom("chills", N_("Chills"), "general"),
    Symptom("muscle_pain", N_("Muscle pain"), "general"),
    Symptom("headache", N_("Headache"), "general"),
    Symptom("sore_throat", N_("Sore throat"), "general"),
    Symptom("nausea_vomiting", N_("Nausea or vomiting"), "general"),
    Symptom("diarrhoea", N_("Diarrhoea"), "general"),
    Symptom("fatigue", N_("Fatigue"), "general"),
    Symptom("congestion", N_("Blocked or runny nose"), "general"),
    Symptom("breathless_at_rest", N_("Short of breath at rest"), "red_flag"),
    Symptom("pain_breathing", N_("Pain when breathing"), "red_flag"),
    Symptom("chest_pain", N_("Chest pain"), "red_flag"),
    Symptom("confusion", N_("Confused or disoriented"), "red_flag"),
    Symptom("bluish_lips", N_("Bluish lips or face"), "red_flag"),
)

SYMPTOMS_BY_CODE = {symptom.code: symptom for symptom in DEFAULT_SYMPTOMS}
