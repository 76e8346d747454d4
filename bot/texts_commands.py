"""Texts of the commands around the questionnaire: /status, /language, /privacy, /stop,
/resume. English message ids; placeholders filled after translation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel import Locale

from backend.i18n import Translator
from bot.texts import upcoming

Params = dict[str, Any]


def status(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    blocks = []
    for person in p.get("people", []):
        lines = []
        if person.get("label"):
            lines.append(_("For {label}:").format(label=person["label"]))
        if person["day"] < 1:
            days = 1 - person["day"]
            lines.append(
                t.ngettext(
                    "Your quarantine begins in {count} day.",
                    "Your quarantine begins in {count} days.",
                    days,
                ).format(count=days)
            )
        else:
            lines.append(
                _("Quarantine day {day} of {days} (until {end}).").format(
                    day=person["day"],
                    days=person["days"],
                    end=t.date(date.fromisoformat(person["end"])),
                )
            )
        if person.get("today"):
            # In the region's time: "today" carries its offset (older rows: "next" did).
            answered = datetime.fromisoformat(person["today"])
            if person.get("zone") is None and (person.get("next") or "")[:1].isdigit():
                answered = answered.astimezone(datetime.fromisoformat(person["next"]).tzinfo)
            at = t.time(answered)
            lines.append(_("Today: answered at {time}. Thank you!").format(time=at))
        else:
            lines.append(_("Today: no answer yet."))
        if person.get("stopped"):
            lines.append(_("You have paused the questions (/resume to continue)."))
        else:
            lines.append(upcoming(t, person.get("next"), now, _("Next questions: {when}.")))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def native_name(language: str) -> str:
    """The language named in itself: Deutsch, Türkçe, العربية, Українська..."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def choose_language(t: Translator, p: Params, now: datetime) -> str:
    return t.gettext("Which language should I use?")


def language_set(t: Translator, p: Params, now: datetime) -> str:
    return t.gettext("✅ I will write in {language} from now on.").format(
        language=native_name(t.language)
    )


def privacy(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    lines = [
        _(
            "What is stored: your daily answers (how you feel, symptoms, temperature, your notes), "
            "the dates of your quarantine and this chat's number. Not your name, phone number or "
            "address."
        ),
        _("Who sees it: only the staff of your health authority, for your quarantine."),
    ]
    if p.get("retention_days"):
        lines.append(
            t.ngettext(
                "How long: it is deleted {count} day after your quarantine has ended.",
                "How long: it is deleted {count} days after your quarantine has ended.",
                p["retention_days"],
            ).format(count=p["retention_days"])
        )
    if p.get("authority"):
        lines.append(_("Your health authority: {authority}").format(authority=p["authority"]))
    if p.get("contact"):
        lines.append(_("Contact: {contact}").format(contact=p["contact"]))
    elif p.get("authority"):
        lines.append(
            _(
                "{authority} will contact you if needed. For questions, please use the contact "
                "details they gave you."
            ).format(authority=p["authority"])
        )
    return "\n\n".join(lines)


def stop_confirm(t: Translator, p: Params, now: datetime) -> str:
    return t.gettext(
        "Do you want to stop the daily questions? {authority} will be told, and may contact you."
    ).format(authority=p["authority"])


def stopped(t: Translator, p: Params, now: datetime) -> str:
    return t.gettext(
        "You will get no more questions. {authority} has been told. Type /resume to continue "
        "at any time."
    ).format(authority=p["authority"])


def resumed(t: Translator, p: Params, now: datetime) -> str:
    return upcoming(
        t, p.get("next"), now, t.gettext("Welcome back! The next questions come {when}.")
    )
