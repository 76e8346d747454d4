"""The questionnaire on screen: one message per prompt, edited as the person answers.

Every step is drawn from plain values (``backend.services.questionnaire_flow.question_view``)
in the person's language at send time.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from backend.domain.messages import NEXT_ENDED
from backend.domain.questionnaire import Action, Draft, Step
from backend.domain.regions import Region
from backend.domain.symptoms import DEFAULT_SYMPTOMS, Symptom
from backend.domain.temperature import fahrenheit_to_celsius
from backend.domain.translatable import N_
from backend.i18n import Translator
from bot.callbacks import encode_question
from bot.texts import upcoming

Keyboard = InlineKeyboardMarkup | None


TREND_LABELS = {
    "better": N_("↗️ Better"),
    "same": N_("➡️ About the same"),
    "worse": N_("↘️ Worse"),
}


def _button(text: str, prompt: str, action: Action, arg: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode_question(prompt, action.value, arg))


# Labels longer than this are cut off on small phones when two share a row: they get their own.
PAIRED_LABEL = 16


def _checklist_rows(
    buttons: list[tuple[InlineKeyboardButton, bool]],
) -> list[list[InlineKeyboardButton]]:
    """Short labels two to a row, in order; a long one alone on its row."""
    rows: list[list[InlineKeyboardButton]] = []
    pending: list[InlineKeyboardButton] = []
    for button, long in buttons:
        if long:
            if pending:
                rows.append(pending)
                pending = []
            rows.append([button])
            continue
        pending.append(button)
        if len(pending) == 2:
            rows.append(pending)
            pending = []
    if pending:
        rows.append(pending)
    return rows


def _heading(t: Translator, p: dict[str, Any]) -> str:
    _ = t.gettext
    day = t.day_and_month(date.fromisoformat(p["date"]))
    heading = (
        _("Day {day} of {days} · {date}").format(day=p["day"], days=p["days"], date=day)
        if p.get("day") and p.get("days")
        else day
    )
    if p.get("label"):
        heading = _("For {label}").format(label=p["label"]) + " · " + heading
    return heading


def question_view(
    t: Translator, p: dict[str, Any], now: datetime, region: Region | None = None
) -> tuple[str, Keyboard]:
    """Text and buttons for the step in ``p["step"]`` (``ask`` for a fresh prompt)."""
    _ = t.gettext
    prompt = p["prompt"]
    draft = Draft.from_stored(p.get("step", Step.ASK), p.get("draft") or {})
    symptoms = region.symptoms if region else DEFAULT_SYMPTOMS
    lines = [_heading(t, p)]
    step = draft.step
    if step is Step.ASK:
        lines.append(_("How are you today?"))
        rows = [
            [_button(_("👍 I feel well, no symptoms"), prompt, Action.WELL)],
            [_button(_("🤒 I don't feel well"), prompt, Action.UNWELL)],
        ]
    elif step is Step.SYMPTOMS:
        lines.append(_("Which symptoms do you have? Tap all that apply, then “Done”."))
        labels = [(s, s.label_in(t.language, _)) for s in symptoms]
        buttons = [
            (
                _button(
                    ("✅ " if s.code in draft.symptoms else "▫️ ") + label,
                    prompt,
                    Action.TOGGLE,
                    s.code,
                ),
                len(label) > PAIRED_LABEL,
            )
            for s, label in labels
        ]
        rows = _checklist_rows(buttons)
        rows.append(
            [
                _button(_("None of these"), prompt, Action.NONE),
                _button(_("Done ➡️"), prompt, Action.DONE),
            ]
        )
    elif step is Step.TEMPERATURE and draft.guess_f is not None:
        # A number without a unit read as °F: asked once, so 100 is not stored unseen as
        # 37.8 °C.
        celsius = t.decimal(fahrenheit_to_celsius(draft.guess_f))
        lines.append(
            _("Did you mean {celsius} °C ({fahrenheit} °F)?").format(
                celsius=celsius, fahrenheit=t.decimal(draft.guess_f, "0.##")
            )
        )
        rows = [
            [_button(_("✅ Yes, {value} °C").format(value=celsius), prompt, Action.CONFIRM)],
            [_button(_("✏️ No, I will type it again"), prompt, Action.RETYPE)],
        ]
    elif step is Step.TEMPERATURE:
        lines.append(
            _("What is your body temperature? Please type it, for example {example}.").format(
                example=t.decimal(37.2)
            )
        )
        row = [_button(_("Not measured"), prompt, Action.NOT_MEASURED)]
        if draft.measured and draft.temperature is not None:
            keep = _("Keep {value} °C").format(value=t.decimal(draft.temperature))
            row.insert(0, _button(keep, prompt, Action.KEEP))
        rows = [row]
    elif step is Step.TREND:
        lines.append(_("Compared with yesterday, how do you feel?"))
        rows = [
            [
                _button(
                    ("✅ " if draft.trend == trend else "") + _(label), prompt, Action.TREND, trend
                )
            ]
            for trend, label in TREND_LABELS.items()
        ]
    elif step is Step.NOTE:
        lines.append(
            _("Anything else your health authority should know? Type a short note, or skip.")
        )
        row = [_button(_("Skip"), prompt, Action.SKIP)]
        if draft.noted and draft.note:
            row.insert(0, _button(_("Keep my note"), prompt, Action.KEEP))
        rows = [row]
    elif step is Step.SUMMARY:
        lines += [_("Please check your answers:"), answers(t, draft, symptoms)]
        rows = [
            [
                _button(_("✅ Send"), prompt, Action.SEND),
                _button(_("✏️ Change"), prompt, Action.CHANGE),
            ]
        ]
    else:
        done = _("✅ Corrected.") if p.get("corrected") else _("✅ Recorded. Thank you!")
        lines.append(done)
        if p.get("urgent"):
            lines.append(_urgent(t, p["urgent"]))
        lines.append(answers(t, draft, symptoms))
        if p.get("next") == NEXT_ENDED:
            lines.append(_("That was the last one: your monitoring ends with your quarantine."))
        elif p.get("next"):
            lines.append(upcoming(t, p["next"], now, _("Next questions: {when}.")))
        rows = [[_button(_("✏️ Correct"), prompt, Action.CORRECT)]]
    if (
        step not in (Step.ASK, Step.DONE)
        and region
        and region.rules.red_flags_among(draft.symptoms)
    ):
        # Safety first: the moment a red-flag symptom is ticked, not four steps later.
        lines.insert(1, _urgent(t, region.emergency_number))
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _urgent(t: Translator, number: str) -> str:
    return t.gettext("⚠️ If this is severe, call {number} or your doctor now.").format(number=number)


def answers(t: Translator, draft: Draft, symptoms: tuple[Symptom, ...]) -> str:
    """The answers in a few short lines, as the person will see them in the summary."""
    _ = t.gettext
    if draft.well:
        return _("You feel well, no symptoms.")
    chosen = [s.label_in(t.language, _) for s in symptoms if s.code in draft.symptoms]
    lines = [
        _("Symptoms: {list}").format(list=t.join(chosen))
        if chosen
        else _("No symptoms from the list.")
    ]
    if draft.temperature is not None:
        lines.append(
            _("Temperature: {value} °C").format(value=t.decimal(Decimal(draft.temperature)))
        )
    elif draft.measured:
        lines.append(_("Temperature: not measured"))
    if draft.trend:
        lines.append(
            _("Compared with yesterday: {trend}").format(trend=_(TREND_LABELS[draft.trend]))
        )
    if draft.note:
        lines.append(_("Note: {note}").format(note=draft.note))
    return "\n".join(lines)
