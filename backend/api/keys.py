"""Typed keys for what the API finds on its aiohttp application and requests."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from backend.domain.staff import StaffMember
from backend.services.context import ServiceContext

CONTEXT = web.AppKey("context", ServiceContext)
# Turns an activation code into the deep link; supplied by whoever runs the bot, because only
# the bot knows its username (after getMe).
DEEP_LINK = web.AppKey("deep_link", Callable[..., str])  # (code, group=False) -> URL
STAFF = web.RequestKey("staff", StaffMember)  # the authenticated member


def staff_of(request: web.Request) -> StaffMember:
    return request[STAFF]
