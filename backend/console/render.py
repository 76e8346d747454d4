"""Rendering a page: the template, the member's language, and what every page shows."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from babel.dates import format_date, format_datetime
from yarl import URL

from backend.api.keys import CONTEXT
from backend.console.keys import LANGUAGE, PAGE_TEXTS, SESSION
from backend.console.security import csrf_token
from backend.domain.translatable import N_
from backend.i18n import Translator, catalogs

CONSOLE_LANGUAGES = ("de", "en")
# Each language in its own words: how a reader finds theirs in a list.
LANGUAGE_NAMES = {
    "de": "Deutsch",
    "en": "English",
    "tr": "Türkçe",
    "ar": "العربية",
    "ru": "Русский",
    "uk": "Українська",
    "pl": "Polski",
}
PREFIX = "/console"


# Notices after an action (?notice=...): fixed texts, so a link cannot put words on a page.
NOTICES = {
    "claimed": N_("You claimed the case's open alerts."),
    "resolved": N_("The case's alerts are resolved."),
    "taken": N_("Someone else claimed or resolved the case's alerts first."),
    "already_resolved": N_("The case's alerts were resolved already."),
    "closed": N_("Monitoring of the case has ended."),
    "reopened": N_("The case is monitored again."),
    "changed": N_("The dates are changed."),
    "cancelled": N_("The broadcast is cancelled: what was not sent yet stays unsent."),
    "signed_out_everywhere": N_("You are signed out on every device."),
    "revoked": N_("The token is revoked."),
    "disabled": N_("The staff member is disabled."),
    "access_changed": N_("The role and regions are changed."),
    "language": N_("Language changed."),
}


ROLE_NAMES = {
    "admin": N_("Administrator"),
    "staff": N_("Case agent"),
    "viewer": N_("Viewer (read only)"),
}


class Formats:
    """Dates, times and numbers in the member's language; times in a region's zone."""

    def __init__(self, language: str):
        self.locale = "de_DE" if language == "de" else "en_GB"

    def date(self, value: date | None, form: str = "medium") -> str:
        return format_date(value, format=form, locale=self.locale) if value else ""

    def when(self, value: datetime | None, timezone: str = "UTC") -> str:
        if value is None:
            return ""
        local = value.astimezone(ZoneInfo(timezone))
        return format_datetime(local, format="short", locale=self.locale)

    def number(self, value: Decimal | float | None, digits: int = 1) -> str:
        if value is None:
            return ""
        text = f"{float(value):.{digits}f}"
        return text.replace(".", ",") if self.locale.startswith("de") else text


class Fields(dict):
    """A form's values or problems: a field without one reads as empty in a template (which
    is otherwise strict about names, so that a misspelt one fails a test)."""

    def __missing__(self, key: str) -> str:
        return ""


_FORM_STATE = ("errors", "given", "problems", "filters")


def texts(request: web.Request) -> Translator:
    """The console's own words in the member's language."""
    return request.app[PAGE_TEXTS].get(request.get(LANGUAGE, "en"))


def reader(request: web.Request) -> Translator:
    """The shared catalogs (alert reasons, symptoms) in the member's language."""
    return catalogs().get(request.get(LANGUAGE, "en"))


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    session = request.get(SESSION)
    staff = session.staff if session and session.stage == "signed_in" else None
    t = texts(request)
    ctx = request.app[CONTEXT]
    notice = NOTICES.get(request.query.get("notice", ""))
    base: dict[str, Any] = {
        "_": t.gettext,
        "ngettext": t.ngettext,
        "lang": t.language,
        "languages": CONSOLE_LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "staff": staff,
        "session": session,
        "csrf": csrf_token(request),
        "fmt": Formats(t.language),
        "reader": reader(request),
        "regions": ctx.regions,
        "path": request.path,
        "static": lambda name: str(request.app.router["static"].url_for(filename=name)),
        "prefix": PREFIX,
        "notice": t.gettext(notice) if notice else None,
        "may_write": (lambda region: staff is not None and staff.may_write(region)),
        "writes_anywhere": bool(staff and staff.writable_regions()),
        "is_admin": bool(staff and staff.role == "admin"),
        "role_name": lambda role: t.gettext(ROLE_NAMES.get(role, role)),
        "region_names": lambda ids: ", ".join(
            (ctx.regions.get(i).name if ctx.regions.get(i) else i) for i in ids
        ),
        # Times are shown in a region's own zone: the first of several, else UTC.
        "zone_of": lambda ids: next(
            (ctx.regions.get(i).timezone for i in ids if ctx.regions.get(i)), "UTC"
        ),
    }
    for name in _FORM_STATE:
        if isinstance(context.get(name), dict):
            context[name] = Fields(context[name])
    response = aiohttp_jinja2.render_template(template, request, base | context, status=status)
    response.headers["Content-Language"] = t.language
    return response


def console_page(value: str | None) -> str:
    """``value`` if it is a page of the console (where a form says to go back, or to go after
    signing in), else the worklist: never another site."""
    if value and value.startswith(f"{PREFIX}/") and not value.startswith("//"):
        return value
    return f"{PREFIX}/"


def redirect(path: str, notice: str | None = None) -> web.HTTPSeeOther:
    """After a change: see the result with GET (a reload does not repeat the change), with
    the notice of this change only."""
    target = URL(PREFIX + path)
    query = [(k, v) for k, v in target.query.items() if k != "notice"]
    if notice:
        query.append(("notice", notice))
    return web.HTTPSeeOther(str(target.with_query(query)))
