"""Typed keys for what the console finds on its application and requests."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from backend.api.auth import FailedLogins
from backend.console.stream_slots import PER_PROCESS, PER_SESSION, StreamSlots
from backend.domain.signin import SessionPolicy
from backend.i18n import Catalogs
from backend.services.signin import ConsoleSession


@dataclass(frozen=True)
class ConsoleOptions:
    policy: SessionPolicy
    trusted_proxy_hops: int = 0
    events_every: float = 2.0  # seconds between an event stream's looks at the database
    streams_per_session: int = PER_SESSION  # live-update streams open at once (stream_slots)
    streams_per_process: int = PER_PROCESS


OPTIONS = web.AppKey("console_options", ConsoleOptions)
PAGE_TEXTS = web.AppKey("console_texts", Catalogs)  # the console's own catalogs (de, en)
FAILED_SIGNINS = web.AppKey("console_failed_signins", FailedLogins)  # per client address
STREAMS = web.AppKey("console_streams", StreamSlots)  # live-update streams open

SESSION = web.RequestKey("console_session", ConsoleSession)  # a live session, any stage
LANGUAGE = web.RequestKey("console_language", str)
CLIENT = web.RequestKey("console_client", str)
PRE_VALUE = web.RequestKey("console_pre", str)  # a pre-session cookie made by this request
