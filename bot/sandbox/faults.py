"""Bot API error responses and the faults a test can inject into the sandbox.

Every error the sandbox answers is a :class:`BotApiFault`; it carries exactly the fields of
Telegram's error JSON (``error_code``, ``description`` and optional ``parameters``), so PTB maps
it to the same exception class it would raise against the real server.

Besides error answers (:class:`InjectedFault`) a test can plan dropped connections
(:class:`InjectedDrop`): the server closes the TCP connection without answering, before or after
carrying the call out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SandboxError(Exception):
    """Raised when a test or the web page uses the sandbox in a way it cannot act out.

    Not a Bot API error: it never travels to the bot, it tells the person driving the sandbox
    what they got wrong (pressing a button that does not exist, writing in an unknown chat...).
    """


class BotApiFault(Exception):
    """An error answer of the Bot API: ``{"ok": false, "error_code", "description", ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> dict[str, Any]:
        """The response body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = dict(self.parameters)
        return body

    @classmethod
    def bad_request(cls, reason: str) -> BotApiFault:
        """400 with Telegram's ``Bad Request: <reason>`` description."""
        return cls(400, f"Bad Request: {reason}")

    @classmethod
    def forbidden(cls, reason: str) -> BotApiFault:
        """403 with Telegram's ``Forbidden: <reason>`` description."""
        return cls(403, f"Forbidden: {reason}")

    @classmethod
    def too_many_requests(cls, retry_after: int) -> BotApiFault:
        """429 flood-control answer; PTB raises ``RetryAfter`` from ``parameters.retry_after``."""
        return cls(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )

    @classmethod
    def migrated(cls, new_chat_id: int) -> BotApiFault:
        """400 for a group that became a supergroup; PTB raises ``ChatMigrated``."""
        return cls(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": new_chat_id},
        )


# Descriptions Telegram (or the nginx in front of it) uses for the status codes a test is most
# likely to inject without naming a description itself.
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class InjectedFault:
    """One planned failure; ``remaining`` counts down as matching calls consume it."""

    method: str | None
    error_code: int
    description: str
    parameters: dict[str, Any] | None
    chat_id: int | str | None
    remaining: int
    hits: list[dict[str, Any]] = field(default_factory=list)

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        return _matches(self.method, self.chat_id, self.remaining, method, params)


@dataclass
class InjectedDrop:
    """One planned dropped connection; ``remaining`` counts down as matching calls consume it.

    ``after_processing`` False: the call is not carried out; True: it is carried out and only the
    answer is lost.
    """

    method: str | None
    chat_id: int | str | None
    remaining: int
    after_processing: bool
    hits: list[dict[str, Any]] = field(default_factory=list)

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        return _matches(self.method, self.chat_id, self.remaining, method, params)


@dataclass
class InjectedAnswer:
    """One planned answer given verbatim instead of carrying the call out: a body a Bot API
    server should not send but might (``{"ok": false}`` with HTTP 200, HTML from a proxy...)."""

    method: str | None
    chat_id: int | str | None
    remaining: int
    status: int
    body: str
    hits: list[dict[str, Any]] = field(default_factory=list)

    def matches(self, method: str, params: dict[str, Any]) -> bool:
        return _matches(self.method, self.chat_id, self.remaining, method, params)


def _matches(
    method_filter: str | None,
    chat_filter: int | str | None,
    remaining: int,
    method: str,
    params: dict[str, Any],
) -> bool:
    if remaining <= 0:
        return False
    if method_filter is not None and method_filter.lower() != method.lower():
        return False
    if chat_filter is not None and str(params.get("chat_id")) != str(chat_filter):
        return False
    return True


class FaultInjector:
    """The faults planned with :meth:`SandboxBotApi.fail_next` and
    :meth:`SandboxBotApi.drop_next`, consumed in the order they were planned."""

    def __init__(self) -> None:
        self._faults: list[InjectedFault | InjectedDrop | InjectedAnswer] = []

    def add(
        self,
        *,
        method: str | None,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        chat_id: int | str | None = None,
        count: int = 1,
    ) -> InjectedFault:
        """Plan ``count`` failures; see :meth:`SandboxBotApi.fail_next` for the parameters."""
        if count < 1:
            raise ValueError("count must be at least 1")
        parameters: dict[str, Any] = {}
        if error_code == 429:
            retry_after = 1 if retry_after is None else retry_after
            parameters["retry_after"] = retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        elif retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        if description is None:
            description = _DEFAULT_DESCRIPTIONS.get(error_code, f"Error {error_code}")
        fault = InjectedFault(
            method=method,
            error_code=error_code,
            description=description,
            parameters=parameters or None,
            chat_id=chat_id,
            remaining=count,
        )
        self._faults.append(fault)
        return fault

    def add_drop(
        self,
        *,
        method: str | None,
        chat_id: int | str | None = None,
        count: int = 1,
        after_processing: bool = False,
    ) -> InjectedDrop:
        """Plan ``count`` dropped connections; see :meth:`SandboxBotApi.drop_next`."""
        if count < 1:
            raise ValueError("count must be at least 1")
        drop = InjectedDrop(
            method=method, chat_id=chat_id, remaining=count, after_processing=after_processing
        )
        self._faults.append(drop)
        return drop

    def add_answer(
        self,
        *,
        method: str | None,
        status: int,
        body: str,
        chat_id: int | str | None = None,
        count: int = 1,
    ) -> InjectedAnswer:
        """Plan ``count`` verbatim answers; see :meth:`SandboxBotApi.answer_next`."""
        if count < 1:
            raise ValueError("count must be at least 1")
        answer = InjectedAnswer(
            method=method, chat_id=chat_id, remaining=count, status=status, body=body
        )
        self._faults.append(answer)
        return answer

    def take(
        self, method: str, params: dict[str, Any]
    ) -> BotApiFault | InjectedDrop | InjectedAnswer | None:
        """What the first planned fault matching this call wants: the error to answer with, the
        drop to act out or the verbatim answer to give; None if no fault matches."""
        for fault in self._faults:
            if fault.matches(method, params):
                fault.remaining -= 1
                fault.hits.append(params)
                if fault.remaining == 0:
                    self._faults.remove(fault)
                if isinstance(fault, InjectedDrop | InjectedAnswer):
                    return fault
                return BotApiFault(fault.error_code, fault.description, fault.parameters)
        return None

    @property
    def pending(self) -> list[InjectedFault | InjectedDrop | InjectedAnswer]:
        """Faults that have not fired as often as planned yet."""
        return list(self._faults)

    def clear(self) -> None:
        """Forget every planned fault."""
        self._faults.clear()
