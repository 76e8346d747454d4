"""The questionnaire on screen: one message per prompt, edited as the person answers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from backend.domain.questionnaire import Action, Step
from backend.domain.symptoms import DEFAULT_SYMPTOMS, SYMPTOMS_BY_CODE
from backend.i18n import Translator
from bot.callbacks import encode_question
from bot.texts import when

Keyboard = InlineKeyboardMarkup | None


def _button(text: str, prompt: str, action: Action, arg: str | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode_question(prompt, action.value, arg))


def _heading(t: Translator, p: dict[str, Any]) -> str:
    _ = t.gettext
    day = date.fromisoformat(p["date"])
    if p.get("day") and p.get("days"):
        return _("Day {day} of {days} · {date}").format(
            day=p["day"], days=p["days"], date=t.day_and_month(day)
        )
    return t.day_and_month(day)


def question_view(t: Translator, p: dict[str, Any], now: datetime) -> tuple[str, Keyboard]:
    """Text and buttons for the step in ``p["step"]`` (``ask`` for a fresh prompt)."""
    _ = t.gettext
    prompt, step = p["prompt"], Step(p.get("step", Step.ASK))
    heading = _heading(t, p)
    if step is Step.ASK:
        text = "\n".join([heading, _("How are you today?")])
        rows = [
            [_button(_("👍 I feel well, no symptoms"), prompt, Action.WELL)],
            [_button(_("🤒 I don't feel well"), prompt, Action.UNWELL)],
        ]
        return text, InlineKeyboardMarkup(rows)
    if step is Step.SYMPTOMS:
        chosen = set(p.get("symptoms", ()))
        text = "\n".join(
            [heading, _("Which symptoms do you have? Tap all that apply, then “Done”.")]
        )
        buttons = [
            _button(
                ("✅ " if s.code in chosen else "▫️ ") + _(s.label), prompt, Action.TOGGLE, s.code
            )
            for s in DEFAULT_SYMPTOMS
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        rows.append(
            [
                _button(_("None of these"), prompt, Action.NONE),
                _button(_("Done ➡️"), prompt, Action.DONE),
            ]
        )
        return text, InlineKeyboardMarkup(rows)
    if step is Step.TEMPERATURE:
        text = "\n".join(
            [
                heading,
                _("What is your body temperature? Please type it, for example {example}.").format(
                    example=t.decimal(37.2)
                ),
            ]
        )
        return text, InlineKeyboardMarkup(
            [[_button(_("Not measured"), prompt, Action.NOT_MEASURED)]]
        )
    return "\n".join([heading, summary(t, p.get("answer") or {}), _next_line(t, p, now)]), None


def summary(t: Translator, answer: dict[str, Any]) -> str:
    _ = t.gettext
    if answer.get("well"):
        return _("✅ Recorded: you feel well, no symptoms.")
    labels = [
        _(SYMPTOMS_BY_CODE[c].label) for c in answer.get("symptoms", ()) if c in SYMPTOMS_BY_CODE
    ]
    lines = [_("✅ Recorded: you don't feel well.")]
    lines.append(
        _("Symptoms: {list}").format(list=t.join(labels))
        if labels
        else _("No symptoms from the list.")
    )
    if answer.get("temperature"):
        lines.append(
            _("Temperature: {value} °C").format(value=t.decimal(float(answer["temperature"])))
        )
    else:
        lines.append(_("Temperature: not measured"))
    return "\n".join(lines)


def _next_line(t: Translator, p: dict[str, Any], now: datetime) -> str:
    return t.gettext("Next questions: {when}.").format(when=when(t, p.get("next"), now))
