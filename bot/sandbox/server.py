"""The loopback Telegram Bot API server: HTTP endpoints, method dispatch and the test controls."""

from __future__ import annotations

import json
import logging
import socket
import time
import traceback
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.sandbox import admin_methods, membership, methods, updates
from bot.sandbox import web as web_page
from bot.sandbox.faults import (
    BotApiFault,
    FaultInjector,
    InjectedAnswer,
    InjectedDrop,
    InjectedFault,
)
from bot.sandbox.limits import RateLimiter, RateLimits
from bot.sandbox.objects import group_chat_json, private_chat_json, user_json
from bot.sandbox.params import Params, UploadedFile, decode_request
from bot.sandbox.state import ChatState, SandboxState
from bot.sandbox.users import ChatHandle, SandboxGroup, SandboxUser

log = logging.getLogger(__name__)

_METHODS: dict[str, methods.Method] = {
    **methods.METHODS,
    **admin_methods.METHODS,
    **updates.METHODS,
}
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Telegram matches method names case-insensitively.
_BY_LOWER = {name.lower(): name for name in _METHODS}


class SandboxBotApi:
    """A Telegram Bot API server on loopback that plays the users of one bot.

    Point PTB at :attr:`base_url`; drive users with :meth:`user` and :meth:`group`; inspect
    :attr:`calls`, :attr:`stats` and :attr:`commands`; inject failures with :meth:`fail_next`,
    :meth:`drop_next`, :meth:`block_bot`, :meth:`migrate_group` and :attr:`enforce_limits`.

    Faults planned with :meth:`fail_next` (an error answer) and :meth:`drop_next` (a dropped
    connection) share one queue: each call consumes at most one, the first planned that matches.

    Dropped connections, for testing at-least-once delivery::

        server.drop_next("sendMessage", chat_id=1001)  # lost on the way to Telegram
        server.drop_next("sendMessage", after_processing=True)  # sent; the answer is lost

    The server closes the TCP connection without any HTTP response, so PTB raises
    ``telegram.error.NetworkError`` ("Server disconnected without sending a response") either
    way. Without ``after_processing`` the call is not carried out; with it, it is carried out
    exactly like a successful call (the message is in the chat and waiters see it), which is how
    a bot that resends ends up with duplicates. Each drop is recorded in :attr:`dropped` as
    ``(method, params, processed)`` and counted in ``stats["dropped"]``; like every received
    call it is also in :attr:`calls` and ``stats[method]``.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "SymptomDiarySandboxBot",
        bot_id: int | None = None,
        clock: Callable[[], float] | None = None,
        *,
        bot_first_name: str = "Symptom Diary",
        can_read_all_group_messages: bool = False,
        limits: RateLimits | None = None,
        max_recorded_calls: int | None = None,
    ) -> None:
        """``bot_id`` defaults to the number before the colon of ``token``; ``clock`` is the
        monotonic clock (seconds) used for the rate limits, ``time.monotonic`` by default.

        ``max_recorded_calls`` bounds :attr:`calls`, :attr:`errors` and :attr:`dropped` (oldest
        forgotten first), for a long-running sandbox mode; tests keep everything by default.
        """
        self.token = token
        self.bot_username = bot_username
        prefix = token.partition(":")[0]
        self.bot_id = bot_id if bot_id is not None else (int(prefix) if prefix.isdigit() else 1)
        self.bot_user = user_json(self.bot_id, bot_first_name, is_bot=True, username=bot_username)
        self.can_read_all_group_messages = can_read_all_group_messages
        self.state = SandboxState()
        self.limiter = RateLimiter(clock or time.monotonic, limits)
        self.faults = FaultInjector()
        self.webhook = updates.Webhook(self)
        self.enforce_limits = False
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stats: Counter[str] = Counter()
        self.errors: list[tuple[str, dict[str, Any]]] = []
        self.dropped: list[tuple[str, dict[str, Any], bool]] = []
        self.max_recorded_calls = max_recorded_calls
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.internal_errors: list[str] = []
        self.closing = False
        self.poll_generation = 0
        self._handles: dict[int, ChatHandle] = {}
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host``:``port`` (0 picks a free port)."""
        if self._runner is not None:
            raise RuntimeError("the sandbox server is already running")
        # Telegram takes uploads up to 50 MB; aiohttp's default body limit is 1 MiB.
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        app.router.add_route("*", "/bot{token}/", self._handle_no_method)
        web_page.setup_routes(app, self)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        self._host, self._port = host, sock.getsockname()[1]
        self.closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        log.info("sandbox Bot API listening on %s", self.root_url)

    async def stop(self) -> None:
        """Answer waiting long polls, stop webhook delivery and close the server."""
        self.closing = True
        self.state.updates.signal.fire()
        self.state.changed.fire()
        await self.webhook.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox server has not been started")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url(...)`` takes; PTB appends ``<token>/<method>``."""
        return f"{self.root_url}/bot"

    @property
    def web_url(self) -> str:
        """The browser chat page."""
        return f"{self.root_url}/sandbox/"

    # -- people and chats -------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        language_code: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
    ) -> SandboxUser:
        """The user ``user_id`` and their private chat with the bot (same id), made on first use.

        Later calls return the same handle; names or language given again update the profile.
        """
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
            raise ValueError("user_id must be a positive integer")
        existing = self.state.users.get(user_id)
        if existing is None:
            profile = user_json(
                user_id,
                first_name or f"User {user_id}",
                last_name=last_name,
                username=username,
                language_code=language_code,
            )
            self.state.users[user_id] = profile
            self.state.chats[user_id] = ChatState(chat=private_chat_json(profile))
            self._handles[user_id] = SandboxUser(self, user_id)
        else:
            changes = {
                "first_name": first_name,
                "language_code": language_code,
                "last_name": last_name,
                "username": username,
            }
            existing.update({key: value for key, value in changes.items() if value})
            self.state.chats[user_id].chat = private_chat_json(existing)
        handle = self._handles[user_id]
        assert isinstance(handle, SandboxUser)
        return handle

    def group(
        self, chat_id: int, title: str = "Group", *, chat_type: str | None = None
    ) -> SandboxGroup:
        """The group ``chat_id`` (made on first use, bot not yet a member).

        ``chat_type`` defaults to "supergroup" for ids like -100xxxxxxxxxx, else "group".
        """
        handle = self._handles.get(chat_id)
        if handle is None:
            if chat_id >= 0:
                raise ValueError("group chat ids are negative")
            if chat_type is None:
                chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
            chat = ChatState(chat=group_chat_json(chat_id, title, chat_type), bot_status="left")
            self.state.chats[chat_id] = chat
            handle = self._handles[chat_id] = SandboxGroup(self, chat_id)
        if not isinstance(handle, SandboxGroup):
            raise ValueError(f"chat {chat_id} is not a group")
        return handle

    def handle_for(self, chat_id: int) -> ChatHandle | None:
        """The user or group handle of a chat, if the sandbox knows it."""
        return self._handles.get(chat_id)

    def move_group_handle(self, group: SandboxGroup, new_chat_id: int) -> None:
        """Re-point ``group`` at its new id after a migration (used by migrate_group)."""
        self._handles[new_chat_id] = group
        group._chat_id = new_chat_id

    async def add_bot_to_group(
        self, group: SandboxGroup, by: SandboxUser, start_payload: str | None = None
    ) -> None:
        """``by`` adds the bot via ``?startgroup=<start_payload>`` (see membership.py)."""
        await membership.add_bot_to_group(self, group, by, start_payload)

    def remove_bot_from_group(self, group: SandboxGroup, by: SandboxUser) -> None:
        """``by`` removes the bot; sends to the group then answer 403."""
        membership.remove_bot_from_group(self, group, by)

    def block_bot(self, user: SandboxUser) -> None:
        """The user blocks the bot; sends to them answer 403 "bot was blocked by the user"."""
        membership.block_bot(self, user)

    def unblock_bot(self, user: SandboxUser) -> None:
        """The user unblocks the bot again."""
        membership.unblock_bot(self, user)

    def migrate_group(
        self, group: SandboxGroup, new_chat_id: int, by: SandboxUser | None = None
    ) -> None:
        """Upgrade ``group`` to supergroup ``new_chat_id``; old-id sends answer 400 + migrate_to."""
        membership.migrate_group(self, group, new_chat_id, by)

    # -- faults and limits ------------------------------------------------------------------

    def fail_next(
        self,
        method: str | None = "sendMessage",
        error_code: int = 500,
        retry_after: int | None = None,
        chat_id: int | str | None = None,
        count: int = 1,
        description: str | None = None,
    ) -> InjectedFault:
        """Answer the next ``count`` calls of ``method`` (any method if None), optionally only
        those for ``chat_id``, with ``error_code``.

        429 gets ``parameters.retry_after`` (default 1) and "Too Many Requests: retry after N";
        500/502 get "Internal Server Error"/"Bad Gateway"; give ``description`` for a specific
        400 such as "Bad Request: message to edit not found".
        """
        return self.faults.add(
            method=method,
            error_code=error_code,
            description=description,
            retry_after=retry_after,
            chat_id=chat_id,
            count=count,
        )

    def drop_next(
        self,
        method: str | None = "sendMessage",
        *,
        chat_id: int | str | None = None,
        count: int = 1,
        after_processing: bool = False,
    ) -> InjectedDrop:
        """Close the connection of the next ``count`` calls of ``method`` (any method if None),
        optionally only those for ``chat_id``, without sending any HTTP response.

        ``after_processing`` False: the call is not carried out at all (nothing is sent, edited
        or answered). True: it is carried out first, exactly as a successful call, and only the
        answer is lost; if the call fails (say 400 "message is not modified"), the error is
        recorded in :attr:`errors` as usual and that answer is lost instead. Either way PTB
        raises ``NetworkError`` and its next request opens a new connection.

        Matching is as for :meth:`fail_next`: ``chat_id`` compares the call's ``chat_id``
        parameter, so calls without one (``answerCallbackQuery``) match only when it is None.
        """
        return self.faults.add_drop(
            method=method, chat_id=chat_id, count=count, after_processing=after_processing
        )

    def answer_next(
        self,
        method: str | None,
        body: dict[str, Any] | str,
        *,
        status: int = 200,
        chat_id: int | str | None = None,
        count: int = 1,
    ) -> InjectedAnswer:
        """Answer the next ``count`` calls of ``method`` (any method if None), optionally only
        those for ``chat_id``, with ``body`` (a dict is sent as JSON, a str verbatim) and
        ``status``, without carrying the call out: for answers a real server should not give,
        such as ``{"ok": false}`` with HTTP 200, or a ``result`` of the wrong shape.
        """
        text = body if isinstance(body, str) else json.dumps(body)
        return self.faults.add_answer(
            method=method, status=status, body=text, chat_id=chat_id, count=count
        )

    def inject_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``{"update_id": n, kind: payload}`` exactly as given, for getUpdates and the
        webhook: for updates a bot must survive (unknown kinds, missing fields)."""
        return self.state.updates.push(kind, payload)

    @property
    def limits(self) -> RateLimits:
        """The flood windows used when :attr:`enforce_limits` is on."""
        return self.limiter.limits

    @limits.setter
    def limits(self, limits: RateLimits) -> None:
        self.limiter.limits = limits

    # -- Bot API endpoint -------------------------------------------------------------------

    async def _handle_no_method(self, request: web.Request) -> web.Response:
        return _response(BotApiFault(404, "Not Found").to_json())

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        requested = request.match_info["method"]
        name = _BY_LOWER.get(requested.lower())
        try:
            values = await decode_request(request)
        except BotApiFault as fault:
            return self._error(requested, fault)
        except web.HTTPRequestEntityTooLarge:
            return self._error(requested, BotApiFault(413, "Request Entity Too Large"))
        except Exception as exc:  # malformed multipart and the like: the client's fault
            log.debug("undecodable request to %s: %r", requested, exc)
            return self._error(requested, BotApiFault.bad_request("can't parse request body"))
        recorded = _recordable(values)
        self._record(self.calls, (name or requested, recorded))
        self.stats[name or requested] += 1
        if request.match_info["token"] != self.token:
            return self._error(requested, BotApiFault(401, "Unauthorized"))
        if name is None:
            return self._error(requested, BotApiFault(404, "Not Found: method not found"))
        planned = self.faults.take(name, values)
        if isinstance(planned, BotApiFault):
            return self._error(name, planned)
        if isinstance(planned, InjectedAnswer):
            self.stats["injected_answers"] += 1
            return web.Response(
                status=planned.status, text=planned.body, content_type="application/json"
            )
        if planned is not None and not planned.after_processing:
            return self._drop_connection(request, name, recorded, processed=False)
        response = await self._call(name, values)
        if planned is not None:  # carried out; now the answer is lost
            return self._drop_connection(request, name, recorded, processed=True)
        return response

    async def _call(self, name: str, values: dict[str, Any]) -> web.Response:
        """Carry out one Bot API call; its answer, success or error."""
        try:
            result = await _METHODS[name](self, Params(values))
        except BotApiFault as fault:
            return self._error(name, fault)
        except Exception:  # a sandbox bug must be visible to the test, not hang the bot
            trace = traceback.format_exc()
            log.error("sandbox failed on %s %s:\n%s", name, values, trace)
            self.internal_errors.append(trace)
            fault = BotApiFault(500, "Internal Server Error: sandbox bug, see internal_errors")
            return self._error(name, fault)
        return _response(_ok_body(result))

    def _record(self, log_list: list[Any], entry: Any) -> None:
        log_list.append(entry)
        if self.max_recorded_calls is not None and len(log_list) > self.max_recorded_calls:
            del log_list[: len(log_list) - self.max_recorded_calls]

    def _drop_connection(
        self, request: web.Request, method: str, params: dict[str, Any], *, processed: bool
    ) -> web.Response:
        """Close the client's connection without answering (see :meth:`drop_next`).

        ``transport.abort()`` closes the socket at once (no response bytes are buffered yet, so
        the client reads a plain EOF: "server disconnected"). aiohttp still needs a response
        object from the handler; writing it then fails with ``ClientConnectionResetError``, a
        ``ConnectionError``, which aiohttp's ``finish_response`` treats as a client that went
        away: it ends the connection's handler loop without logging anything, and
        ``connection_lost`` releases the socket. Raising instead would log "Error handling
        request" with a traceback.
        """
        self.stats["dropped"] += 1
        self._record(self.dropped, (method, params, processed))
        log.debug("sandbox drops the connection of %s (processed: %s)", method, processed)
        transport = request.transport
        if transport is not None:  # None if the client is already gone
            transport.abort()
        return web.Response(status=204)

    def _error(self, method: str, fault: BotApiFault) -> web.Response:
        self.stats["errors"] += 1
        self.stats[str(fault.error_code)] += 1
        body = fault.to_json()
        self._record(self.errors, (method, body))
        log.debug("sandbox answers %s with %s", method, fault)
        return _response(body)


def _ok_body(result: Any) -> dict[str, Any]:
    if isinstance(result, methods.Described):
        return {"ok": True, "result": result.result, "description": result.description}
    return {"ok": True, "result": result}


def _recordable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.to_json() if isinstance(value, UploadedFile) else value
        for key, value in values.items()
    }


def _response(body: dict[str, Any]) -> web.Response:
    status = 200 if body["ok"] else body["error_code"]
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
    )
