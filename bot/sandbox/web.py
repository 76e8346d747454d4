"""The browser chat page of sandbox mode and the small JSON API it polls.

``GET /sandbox/`` serves ``static/index.html``. The API, all JSON, errors as
``{"ok": false, "error": "..."}`` with status 400/404/415 (never a 500 for bad input):

- ``GET  /sandbox/api/info``: the bot, known users and groups.
- ``POST /sandbox/api/users`` ``{"id", "first_name", "language_code"}``: create or update a user.
- ``GET  /sandbox/api/chats/{chat_id}/messages?after=SEQ&wait=S``: the chat's messages (users'
  and the bot's, edits applied); with ``wait`` it holds the request up to S seconds (max 25)
  until something changes after position ``after``, so the page can long-poll.
- ``POST /sandbox/api/chats/{chat_id}/messages`` ``{"text", "from": {"id", "first_name",
  "language_code"}}``: the user writes in the chat.
- ``POST /sandbox/api/chats/{chat_id}/press`` ``{"message_id", "data", "from": {...}}``: the user
  presses an inline button.

POST bodies must be sent as ``application/json``: a cross-site form cannot send that without a
CORS preflight, which this API never grants, so other web pages cannot drive the sandbox.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.sandbox.faults import SandboxError
from bot.sandbox.users import SandboxGroup, SandboxUser

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi

STATIC_DIR = Path(__file__).with_name("static")
MAX_WAIT_SECONDS = 25
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def setup_routes(app: web.Application, api: SandboxBotApi) -> None:
    """Add the page and its JSON API to ``app``."""
    handlers = _Handlers(api)
    app.router.add_get("/sandbox", handlers.redirect)
    app.router.add_get("/sandbox/", handlers.page)
    app.router.add_get("/sandbox/api/info", handlers.guard(handlers.info))
    app.router.add_post("/sandbox/api/users", handlers.guard(handlers.create_user))
    app.router.add_get("/sandbox/api/chats/{chat_id}/messages", handlers.guard(handlers.messages))
    app.router.add_post("/sandbox/api/chats/{chat_id}/messages", handlers.guard(handlers.write))
    app.router.add_post("/sandbox/api/chats/{chat_id}/press", handlers.guard(handlers.press))


class _Handlers:
    def __init__(self, api: SandboxBotApi) -> None:
        self.api = api

    def guard(self, handler: Any) -> Any:
        """Turn validation problems into JSON errors with a clear message."""

        async def guarded(request: web.Request) -> web.Response:
            try:
                return web.json_response(await handler(request))
            except ApiError as exc:
                return _error(exc.status, str(exc))
            except SandboxError as exc:
                return _error(409, str(exc))
            except web.HTTPException as exc:  # e.g. a body over the size limit
                return _error(exc.status, exc.reason)

        return guarded

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/sandbox/")

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def info(self, request: web.Request) -> dict[str, Any]:
        state = self.api.state
        groups = [
            {**chat.chat, "bot_status": chat.bot_status}
            for chat in state.chats.values()
            if chat.is_group and chat.migrated_to is None
        ]
        return {
            "ok": True,
            "bot": self.api.bot_user,
            "users": list(state.users.values()),
            "groups": groups,
        }

    async def create_user(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        user = self._user_from(body, key=None)
        return {"ok": True, "user": user.user}

    async def messages(self, request: web.Request) -> dict[str, Any]:
        chat = self._chat(request)
        after = _int_query(request, "after", 0)
        wait = min(max(_int_query(request, "wait", 0), 0), MAX_WAIT_SECONDS)
        state = self.api.state
        if wait:
            await state.changed.wait_for(lambda: state.seq > after or self.api.closing, wait)
        answers = [a for a in state.callback_answers if a["chat_id"] == chat.chat_id]
        return {
            "ok": True,
            "seq": state.seq,
            "chat": chat.chat,
            "bot_status": chat.state.bot_status,
            "messages": chat.history,
            "reply_keyboard": chat.reply_keyboard,
            "callback_answers": answers[-20:],
        }

    async def write(self, request: web.Request) -> dict[str, Any]:
        chat = self._chat(request, allow_new_private=True)
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "'text' must be a non-empty string")
        if len(text) > 4096:
            raise ApiError(400, "'text' is longer than Telegram's 4096 characters")
        user = self._user_from(body)
        target = self._target(chat, user)
        message = await user.send_text(text, chat=None if target is user else target)
        return {"ok": True, "message": message}

    async def press(self, request: web.Request) -> dict[str, Any]:
        chat = self._chat(request)
        body = await _json_body(request)
        message_id, data = body.get("message_id"), body.get("data")
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise ApiError(400, "'message_id' must be an integer")
        if not isinstance(data, str) or not data:
            raise ApiError(400, "'data' must be a non-empty string")
        user = self._user_from(body)
        self._target(chat, user)
        record = chat.state.records.get(message_id)
        if record is None or record.deleted or not record.from_bot:
            raise ApiError(404, f"no bot message {message_id} in chat {chat.chat_id}")
        query = await user.press(record.message, data)
        return {"ok": True, "callback_query_id": query["id"]}

    def _chat(self, request: web.Request, *, allow_new_private: bool = False) -> Any:
        raw = request.match_info["chat_id"]
        try:
            chat_id = int(raw)
        except ValueError:
            raise ApiError(400, f"chat id {raw!r} is not an integer") from None
        handle = self.api.handle_for(chat_id)
        if handle is None and allow_new_private and chat_id > 0:
            return chat_id  # a new person: the user is made from "from"
        if handle is None:
            raise ApiError(404, f"unknown chat {chat_id}")
        return handle

    def _target(self, chat: Any, user: SandboxUser) -> SandboxUser | SandboxGroup:
        if isinstance(chat, SandboxGroup):
            return chat
        chat_id = chat if isinstance(chat, int) else chat.chat_id
        if chat_id != user.user_id:
            raise ApiError(400, "in a private chat, 'from.id' must be the chat id")
        return user

    def _user_from(self, body: dict[str, Any], key: str | None = "from") -> SandboxUser:
        sender = body.get(key) if key else body
        where = f"'{key}'" if key else "the body"
        if not isinstance(sender, dict):
            raise ApiError(400, f"{where} must be an object with 'id' and 'first_name'")
        user_id = sender.get("id")
        if isinstance(user_id, bool) or not isinstance(user_id, int) or not 0 < user_id < 2**52:
            raise ApiError(400, f"{where}: 'id' must be a positive integer")
        first_name = sender.get("first_name")
        if first_name is not None and (
            not isinstance(first_name, str) or not 0 < len(first_name.strip()) <= 64
        ):
            raise ApiError(400, f"{where}: 'first_name' must be 1 to 64 characters")
        language = sender.get("language_code")
        if language is not None and (
            not isinstance(language, str) or not _LANGUAGE.match(language)
        ):
            raise ApiError(400, f"{where}: 'language_code' must look like 'de' or 'pt-BR'")
        if first_name is None and user_id not in self.api.state.users:
            raise ApiError(400, f"{where}: 'first_name' is required for a new user")
        return self.api.user(user_id, first_name.strip() if first_name else None, language or None)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, "send the body as application/json")
    try:
        body = json.loads(await request.text())
    except ValueError:
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _int_query(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {name!r} must be an integer") from None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)
