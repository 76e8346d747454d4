"""Everything the bot says to citizens, in English message ids for the catalogs.

Placeholders are named and filled after translation. Keep sentences short: people read them
on small phones, maybe with a fever.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from backend.domain.messages import NEXT_ENDED, NEXT_PAUSED
from backend.domain.translatable import N_
from backend.i18n import Translator

Params = dict[str, Any]


def when(t: Translator, iso: str | None, now: datetime) -> str:
    """A prompt time as "today at 18:00", "tomorrow at 08:00" or "on 3 December at 08:00"."""
    _ = t.gettext
    if not iso:
        return _("soon")
    at = datetime.fromisoformat(iso)
    days = (at.date() - now.astimezone(at.tzinfo).date()).days
    clock = t.time(at)
    if days == 0:
        return _("today at {time}").format(time=clock)
    if days == 1:
        return _("tomorrow at {time}").format(time=clock)
    return _("on {date} at {time}").format(date=t.day_and_month(at.date()), time=clock)


def upcoming(t: Translator, nxt: str | None, now: datetime, sentence: str) -> str:
    """``sentence`` (translated, with ``{when}``) about the next questions; instead, when there
    are none to announce, that they are paused (/stop) or that monitoring ends."""
    _ = t.gettext
    if nxt == NEXT_PAUSED:
        return _("The daily questions are paused. Type /resume to continue.")
    if nxt == NEXT_ENDED:
        return _("No more questions are planned: your monitoring ends with your quarantine.")
    return sentence.format(when=when(t, nxt, now))


def _welcome(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    times = t.join([t.time(datetime.fromisoformat(f"2000-01-01T{x}")) for x in p["times"]])
    household = (
        [
            _("{label} is now registered too. I will ask about each person in turn.").format(
                label=p["label"]
            )
        ]
        if p.get("label")
        else []
    )
    return "\n\n".join(
        household
        + [
            _(
                "Welcome! You are registered for your quarantine from {start} to {end}. Your "
                "health authority: {authority}."
            ).format(
                authority=p["authority"],
                start=t.date(date.fromisoformat(p["start"])),
                end=t.date(date.fromisoformat(p["end"])),
            ),
            _(
                "Every day at {times} I will ask how you feel. It takes a few seconds: one tap "
                "if all is well."
            ).format(times=times),
            upcoming(
                t,
                p.get("next"),
                now,
                _("Your first questions come {when}. Type /help at any time."),
            ),
            _("Another language? Type /language."),
        ]
    )


def _help(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    if not p.get("registered"):
        return _start_unregistered(t, p, now)
    return "\n\n".join(
        [
            _("I ask you every day how you feel and pass your answers to your health authority."),
            _(
                "Answer with the buttons under my questions. When I ask for your temperature, "
                "type it, for example {example}."
            ).format(example=t.decimal(37.2)),
            upcoming(t, p.get("next"), now, _("The next questions come {when}.")),
        ]
    )


def _start_unregistered(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    return _(
        "Hello! I keep a daily symptom diary for people in quarantine, on behalf of their "
        "health authority. To take part, please open the personal link your health authority "
        "gave you."
    )


def _simple(message: str) -> Callable[[Translator, Params, datetime], str]:
    def render(t: Translator, p: Params, now: datetime) -> str:
        return t.gettext(message)

    return render


def _with_next(message: str) -> Callable[[Translator, Params, datetime], str]:
    def render(t: Translator, p: Params, now: datetime) -> str:
        return upcoming(t, p.get("next"), now, t.gettext(message))

    return render


def _implausible(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    value = t.decimal(float(p["value"])) if p.get("value") else "?"
    return _(
        "{value} °C is unusual for a body temperature. Please measure again and type the "
        "value, for example {example}."
    ).format(value=value, example=t.decimal(37.2))


def _unreadable(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    return _(
        "I could not read that as a temperature. Please type a number such as {example}, or "
        "tap “Not measured”."
    ).format(example=t.decimal(37.2))


def _note_too_long(t: Translator, p: Params, now: datetime) -> str:
    return t.gettext(
        "That note is too long: at most {limit} characters, please. Your health authority will "
        "call you if they need to know more."
    ).format(limit=p.get("value") or 500)


def reminder(t: Translator) -> str:
    return t.gettext(
        "⏰ A reminder: today's questions are still open. Please answer them with the buttons "
        "under my last question."
    )


def closing(t: Translator, p: Params) -> str:
    _ = t.gettext
    return "\n\n".join(
        [
            _("Your quarantine ended on {date}, and so does your symptom diary.").format(
                date=t.date(date.fromisoformat(p["end"]))
            ),
            _(
                "Thank you for reporting every day! You will get no more questions. Get well soon "
                "or stay well."
            ),
            *_if_unwell(t, p),
        ]
    )


def _if_unwell(t: Translator, p: Params) -> list[str]:
    """Whom to call once the diary no longer asks (the region's emergency number)."""
    if not p.get("emergency"):
        return []  # queued before the number was part of the message
    return [
        t.gettext("If you feel unwell, call your doctor. In an emergency, call {number}.").format(
            number=p["emergency"]
        )
    ]


def _about(p: Params) -> list[str]:
    """In a household, whom a message about one case is about."""
    return [f"{p['label']}:"] if p.get("label") else []


def _case_closed(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    ended = _("Your health authority has ended your symptom diary: you will get no more questions.")
    return "\n\n".join([*_about(p), ended, *_if_unwell(t, p)])


def _case_reopened(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    resumed = _("Your health authority has resumed your symptom diary, until {end}.").format(
        end=t.date(date.fromisoformat(p["end"]))
    )
    nxt = upcoming(t, p.get("next"), now, _("The next questions come {when}."))
    return "\n\n".join([*_about(p), resumed, nxt])


def _dates_changed(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    changed = _(
        "Your health authority changed your quarantine: it now runs from {start} to {end}."
    ).format(start=t.date(date.fromisoformat(p["start"])), end=t.date(date.fromisoformat(p["end"])))
    nxt = upcoming(t, p.get("next"), now, _("The next questions come {when}."))
    return "\n\n".join([*_about(p), changed, nxt])


def _case_moved(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    moved = _("Your case is now looked after by {authority}.").format(authority=p["authority"])
    nxt = upcoming(t, p.get("next"), now, _("The next questions come {when}."))
    return "\n\n".join([*_about(p), moved, nxt])


def _monitoring_ended(t: Translator, p: Params, now: datetime) -> str:
    _ = t.gettext
    return "\n\n".join(
        [
            _("Your monitoring has ended; there are no more questions. Stay well!"),
            *_if_unwell(t, p),
            _("If your health authority gives you a new link, open it to start again."),
        ]
    )


def notice(t: Translator, p: Params) -> str:
    """A staff broadcast: the text is the authority's own, already in the person's language."""
    return t.gettext("📢 Notice from your health authority:") + "\n\n" + p["text"]


SORRY = N_("Sorry, something went wrong on our side. Please try again in a minute.")

REPLIES: dict[str, Callable[[Translator, Params, datetime], str]] = {
    "welcome": _welcome,
    "help": _help,
    "start_unregistered": _start_unregistered,
    "code_invalid": _simple(
        N_(
            "This link is not valid. Please open the complete link from your health authority, "
            "or ask them for a new one."
        )
    ),
    "code_used": _simple(
        N_(
            "This link has already been used. If you changed phones, please ask your health "
            "authority for a new link."
        )
    ),
    "code_expired": _simple(
        N_("This link has expired. Please ask your health authority for a new one.")
    ),
    "code_replaced": _simple(
        N_(
            "This link was replaced by a newer one. Please open the newest link your health "
            "authority gave you."
        )
    ),
    "already_active": _with_next(N_("You are registered. Your next questions come {when}.")),
    "unknown_command": _simple(
        N_(
            "Sorry, I did not understand that. Please answer with the buttons under my "
            "question, or type /help."
        )
    ),
    "button_expected": _simple(N_("Please answer with the buttons under my last question.")),
    "no_question": _with_next(
        N_("Thank you! There is no open question right now. The next questions come {when}.")
    ),
    "temperature_unreadable": _unreadable,
    "temperature_implausible": _implausible,
    "note_too_long": _note_too_long,
    "monitoring_ended": _monitoring_ended,
    "case_closed": _case_closed,
    "case_reopened": _case_reopened,
    "dates_changed": _dates_changed,
    "case_moved": _case_moved,
    "superseded": _simple(N_("This question was replaced by a newer one below.")),
    "already_stopped": _simple(N_("The questions are already paused. Type /resume to continue.")),
    "stop_cancelled": _simple(N_("Good, the daily questions continue.")),
    "not_paused": _with_next(
        N_("You are already getting the daily questions. The next ones come {when}.")
    ),
    "sorry": _simple(SORRY),  # an update given up (services.update_failures)
}

# Short notices shown on top of the chat after a button press.
NOTICES: dict[str, str] = {
    "question_closed": N_("This question is closed."),
    "recorded": N_("Thank you!"),
    "not_now": N_("This button is no longer active."),
    "unknown_symptom": N_("This button is no longer active."),
    "already_recorded": N_("Your answer is already recorded. Thank you!"),
    "correction_closed": N_("This answer can no longer be changed."),
    "sorry": SORRY,
}

# The command menu (setMyCommands), per language.
COMMANDS = (
    ("start", N_("Start or show your registration")),
    ("status", N_("Your quarantine day and today's answer")),
    ("language", N_("Change the language")),
    ("privacy", N_("What is stored and who sees it")),
    ("stop", N_("Pause the daily questions")),
    ("resume", N_("Continue the daily questions")),
    ("help", N_("What this bot does")),
)
