"""Logging set-up: text or JSON lines, with the request and update being handled.

Which request or Telegram update a line belongs to is carried in context variables, set by
the API middleware and the bot's update processing, and added to every record by a filter.
Libraries that would log secrets or personal data are held above that level.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import TextIO
from urllib.parse import quote

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.web import BaseRequest, StreamResponse
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
UPDATE_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("update_id", default=None)


TOKEN_PLACEHOLDER = "<token>"


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (as given or percent-encoded, as a URL may show it) replaced by
    ``<token>``. PTB puts the bot token into every request URL and HTTP client errors quote the
    URL, so any message built from such an error may carry it; whoever has it controls the bot."""
    if not secret:
        return text
    for form in sorted({secret, quote(secret, safe=""), quote(secret)}, key=len, reverse=True):
        text = text.replace(form, TOKEN_PLACEHOLDER)
    return text


def describe_error(error: BaseException, secret: str | None) -> str:
    """``Type: message`` of an error for a log line or a stored reason, ``secret`` taken out
    (HTTP client errors quote the request URL, which holds the bot token)."""
    return redact(f"{type(error).__name__}: {error}", secret)


def where_it_failed(error: BaseException) -> str:
    """An error's type and the code it passed through, without its message: a message may
    quote a value (asyncpg's DataError quotes the parameter, a person's note say), and logs
    carry no personal data."""
    frames = traceback.format_tb(error.__traceback__)
    return f"{type(error).__name__}, raised at\n{''.join(frames)}".rstrip()


class RedactingFormatter(logging.Formatter):
    """Another formatter's output with the secrets taken out, tracebacks included: the last
    line of defence for a library that puts a URL with the token into a message."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str | None]):
        super().__init__()
        self.inner = inner
        self.secrets = [secret for secret in secrets if secret]

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record)
        for secret in self.secrets:
            text = redact(text, secret)
        return text


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.update_id = UPDATE_ID.get()
        return True


def configure_logging(
    level: str,
    fmt: str = "text",
    stream: TextIO | None = None,
    secrets: Iterable[str | None] = (),
) -> None:
    """Log to ``stream`` (standard error by default) as text or as one JSON object per line,
    with ``secrets`` (the bot token) replaced wherever they appear."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(update_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(RedactingFormatter(formatter, secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_libraries(level)


def quiet_libraries(level: str) -> None:
    """Libraries that would log secrets or personal data are held above that level."""
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # PTB logs message texts at DEBUG: personal data must not reach the log at any level.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # asyncpg's DEBUG lines may carry query arguments.
    logging.getLogger("asyncpg").setLevel(max(logging.INFO, logging.getLevelName(level)))


# Control characters (C0, DEL, C1), line and paragraph separators, bidirectional overrides,
# and the backslash that introduces an escape (so that an escape cannot be forged either).
_UNSAFE_IN_A_LINE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\\":
        return "\\\\"
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def one_line(text: str) -> str:
    """``text`` made safe for one line of a text log: what a client sent (a path decoded from
    ``%0A``, say) could otherwise end the line and write a forged one after it."""
    return _UNSAFE_IN_A_LINE.sub(_escape_one, text)


class PathOnlyAccessLogger(AbstractAccessLogger):
    """aiohttp's access log without query strings: a console search (``?q=`` a staff
    reference) or a filter must not reach the log, nor any Referer or User-Agent. What is
    written of the request (method and decoded path) is escaped by ``one_line``."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            self.logger.info(
                "%s %s %s %.3fs",
                one_line(request.method),
                one_line(request.path),
                response.status,
                time,
            )


class ServerLogger(logging.LoggerAdapter):
    """aiohttp's low-level server logger (``aiohttp.server``) with a malformed request taken
    as what it is, a client's mistake: aiohttp answers it 400 and logs it at ERROR with a
    traceback whose message quotes the offending bytes (a header's value: perhaps a token or
    personal data, perhaps a NUL). Here it is one INFO line naming the error's type. Every
    other error (a failing handler) is logged as aiohttp logs it."""

    def __init__(self, logger: logging.Logger | None = None):
        super().__init__(logger or logging.getLogger("aiohttp.server"), {})

    def exception(
        self, msg: object, *args: object, exc_info: object = True, **kwargs: object
    ) -> None:
        if isinstance(exc_info, BadHttpMessage):
            self.info("malformed request refused with 400 (%s)", type(exc_info).__name__)
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)
