"""What the bot says in an authority's group and to staff: alerts and their buttons, group
binding, account linking, /broadcast from the group. In the region's language."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from backend.domain.regions import Region
from backend.domain.translatable import N_
from backend.i18n import Translator
from backend.wording import alert_reason, symptom_list
from bot.callbacks import encode_alert, encode_broadcast

Params = dict[str, Any]


def Np_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a plural pair for extraction (keyword Np_:1,2); translated with ngettext."""
    return singular, plural


SEVERITY = {
    "urgent": N_("🚨 URGENT alert"),
    "high": N_("⚠️ Alert"),
    "normal": N_("ℹ️ Notice"),
}
KIND = {"index": N_("index case"), "contact": N_("contact")}


def _day(t: Translator, day: dict, region: Region | None) -> str:
    _ = t.gettext
    parts = [t.day_and_month(date.fromisoformat(day["date"]))]
    if day.get("temperature"):
        parts.append(_("{value} °C").format(value=t.decimal(Decimal(day["temperature"]))))
    if day.get("well"):
        parts.append(_("feels well"))
    elif day.get("symptoms"):
        parts.append(symptom_list(t, day["symptoms"], region))
    else:
        parts.append(_("no symptoms from the list"))
    return " · ".join(parts)


def alert(
    t: Translator, p: Params, now: datetime, region: Region | None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The alerts one entry raised, as the group sees them in one message, with the buttons
    their state allows (they act on all of the case's unresolved alerts)."""
    _ = t.gettext
    # A message queued before alerts were grouped names one rule at the top level.
    alerts = p.get("alerts") or [
        {"rule": p["rule"], "reasons": p.get("reasons", []), "status": p["status"]}
    ]
    # Some of them taken through the API, others not: each line says which.
    mixed = len({a["status"] for a in alerts}) > 1
    head = _("{severity} · case {reference} · {kind} · day {day} of {days}").format(
        severity=_(SEVERITY.get(p["severity"], SEVERITY["normal"])),
        reference=p["reference"],
        kind=_(KIND.get(p["kind"], "contact")),
        day=p["day"],
        days=p["days"],
    )
    lines = [head, ""]
    for item in alerts:
        state = ""
        if mixed and item["status"] == "claimed":
            state = " · " + _("claimed by {name}").format(name=item.get("claimed_by") or "?")
        elif mixed and item["status"] == "resolved":
            state = " · " + _("resolved")
        lines += ["• " + alert_reason(t, item["rule"], r, region) + state for r in item["reasons"]]
    lines += ["", _("Last days:")]
    recent = p.get("recent") or []
    lines += [_day(t, day, region) for day in recent] or [_("No entries in the last three days.")]
    buttons: list[list[InlineKeyboardButton]] = []
    escalation = p["escalation"]
    if p["status"] == "open":
        buttons = [
            [
                InlineKeyboardButton(_("🙋 Claim"), callback_data=encode_alert(escalation, "c")),
                InlineKeyboardButton(_("✅ Resolve"), callback_data=encode_alert(escalation, "r")),
            ]
        ]
    elif p["status"] == "claimed":
        lines += ["", _("🙋 Claimed by {name}").format(name=p.get("claimed_by") or "?")]
        buttons = [
            [InlineKeyboardButton(_("✅ Resolve"), callback_data=encode_alert(escalation, "r"))]
        ]
    else:
        lines.append("")
        if p.get("resolved_by"):
            lines.append(_("✅ Resolved by {name}").format(name=p["resolved_by"]))
        else:
            lines.append(_("✅ Resolved automatically: a report came in."))
        if p.get("resolution") and p.get("resolved_by"):
            lines.append(_("Comment: {comment}").format(comment=p["resolution"]))
    if p.get("reposted") and p["status"] == "open":
        lines.insert(
            1,
            t.ngettext(
                "Nobody has claimed this alert yet.",
                "Nobody has claimed these alerts yet.",
                sum(1 for item in alerts if item["status"] == "open"),
            ),
        )
    return "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None


def _simple(message: str):  # noqa: ANN202 - a text renderer
    def render(t: Translator, p: Params, now: datetime) -> str:
        return t.gettext(message).format(**p)

    return render


def _people(forms: tuple[str, str]):  # noqa: ANN202
    def render(t: Translator, p: Params, now: datetime) -> str:
        return t.ngettext(*forms, p["recipients"]).format(
            count=p["recipients"], authority=p.get("authority", ""), text=p.get("text", "")
        )

    return render


REPLIES = {
    "group_bound": _simple(
        N_(
            "✅ This group now receives the alerts of {authority}. Staff: link your Telegram "
            "account (ask your administrator for a link code) to claim and resolve them."
        )
    ),
    "group_bind_not_authorised": _simple(
        N_(
            "Not authorised: only linked staff of this authority may bind a group. Nothing "
            "has changed."
        )
    ),
    "group_replaced": _simple(
        N_("This group no longer receives the alerts of {authority}: they now go to another group.")
    ),
    "group_code_invalid": _simple(
        N_("This link is not valid or has expired. Please ask for a new one.")
    ),
    "resolve_prompt": _simple(
        N_(
            "Resolving the open alerts of case {reference}: reply to this message with a "
            "short comment, or tap “No comment”."
        )
    ),
    "resolve_done": _simple(N_("✅ Resolved.")),
    "not_authorised_broadcast": _simple(
        N_("Only linked staff of this authority may send broadcasts.")
    ),
    "broadcast_usage": _simple(
        N_(
            "Write the notice after the command, for example: /broadcast The test centre opens "
            "at 9:00. At most {limit} characters."
        )
    ),
    "broadcast_preview": _people(
        Np_(
            "📢 Preview: this notice goes to {count} person monitored by {authority}:\n\n{text}",
            "📢 Preview: this notice goes to {count} people monitored by {authority}:\n\n{text}",
        )
    ),
    "broadcast_sent": _people(
        Np_("📢 On its way to {count} person.", "📢 On its way to {count} people.")
    ),
    "broadcast_cancelled": _simple(N_("Broadcast cancelled.")),
    "link_invalid": _simple(N_("This link code is not valid or has expired.")),
    "link_done": _simple(
        N_(
            "✅ Your Telegram account is now linked to {name}. You can claim and resolve alerts "
            "in your authority's group."
        )
    ),
}

NOTICES = {
    "not_authorised": N_("Only linked staff of this authority can do this."),
    "claimed": N_("You have claimed the open alerts of this case."),
    "already_taken": N_("Someone else was quicker: see the message."),
    "resolved": N_("Resolved."),
}


def resolve_keyboard(t: Translator, p: Params) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("No comment"), callback_data=encode_alert(p["escalation"], "n")
                )
            ]
        ]
    )


def broadcast_keyboard(t: Translator, p: Params) -> InlineKeyboardMarkup:
    send = t.ngettext("📢 Send to {count} person", "📢 Send to {count} people", p["recipients"])
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    send.format(count=p["recipients"]),
                    callback_data=encode_broadcast(p["draft"], True),
                )
            ],
            [
                InlineKeyboardButton(
                    t.gettext("Cancel"), callback_data=encode_broadcast(p["draft"], False)
                )
            ],
        ]
    )
