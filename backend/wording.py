"""Wording shared by every reader of an alert: its reasons and the symptoms they name, in the
reader's language (the authority's group, the staff console). Message ids are extracted into
the citizen catalogs (locales/messages.pot), which staff languages share."""

from __future__ import annotations

from decimal import Decimal

from backend.domain.regions import Region
from backend.domain.symptoms import SYMPTOMS_BY_CODE
from backend.domain.translatable import N_
from backend.i18n import Translator

KINDS = {"index": N_("index cases"), "contact": N_("contacts")}


def symptom_list(t: Translator, codes: list[str], region: Region | None) -> str:
    def label(code: str) -> str:
        symptom = (region.symptom(code) if region else None) or SYMPTOMS_BY_CODE.get(code)
        return symptom.label_in(t.language, t.gettext) if symptom else code

    return t.join([label(code) for code in codes])


def alert_reason(t: Translator, rule: str, reason: dict, region: Region | None) -> str:
    _ = t.gettext
    if rule == "red_flag":
        return _("Red flag: {symptoms}").format(
            symptoms=symptom_list(t, reason["red_flags"], region)
        )
    if rule == "temperature":
        return _("Temperature {value} °C (alerts above {limit} °C for {kinds})").format(
            value=t.decimal(Decimal(reason["temperature"])),
            limit=t.decimal(Decimal(reason["limit"])),
            kinds=_(KINDS.get(reason.get("kind", ""), "contacts")),
        )
    if rule == "symptomatic":
        return _("Symptomatic: {symptoms}").format(
            symptoms=symptom_list(t, reason["symptoms"], region)
        )
    if rule == "first_symptom":
        return _("First characteristic symptom of a contact: {symptoms}").format(
            symptoms=symptom_list(t, reason["symptoms"], region)
        )
    if rule == "worsening":
        days = reason.get("days", 2)
        return t.ngettext(
            "Feels worse {count} day in a row", "Feels worse {count} days in a row", days
        ).format(count=days)
    if rule == "non_reporting":
        hours = reason.get("hours", 24)
        return t.ngettext(
            "No report for {count} hour", "No report for {count} hours", hours
        ).format(count=hours)
    if rule == "stopped":
        return _("Stopped the daily questions (/stop)")
    return rule


# The sheet staff hand over (printed or sent) with a new case's one-time link, in the person's
# language: what to do, in plain words.
HANDOVER = {
    "title": N_("Your daily symptom diary"),
    "intro": N_(
        "{authority} accompanies your quarantine from {start} to {end}. Every day a Telegram "
        "bot asks you how you are. Answering takes a minute."
    ),
    "step_install": N_("Install Telegram on your phone, if you do not have it yet."),
    "step_scan": N_("Scan this code with your phone's camera, or open the link below."),
    "step_start": N_("Tap Start in the chat with the bot, then answer its questions."),
    "times": N_("The questions come every day at {times}."),
    "expiry": N_(
        "The link works once, until {expiry}. If it has expired, ask your health authority "
        "for a new one."
    ),
    "emergency": N_("If you feel very ill or find it hard to breathe, call {number} at once."),
    "contact": N_("Questions about your quarantine: {contact}"),
    "privacy": N_(
        "The bot never asks for your name. Your answers are seen only by your health authority."
    ),
}
