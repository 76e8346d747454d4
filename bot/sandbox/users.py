"""Playing the people the bot talks to: handles for private chats (users) and groups.

Waiting for the bot works on a per-chat sequence of changes. ``mark()`` returns the current
position; ``wait_for_message(after=mark)`` returns the first bot message sent or edited after it
(in order of the changes) that matches the predicate. Without ``after`` it continues from the
chat's *cursor*: the position at this chat's last user action (``send_text``, ``press``...) or
just past the message the previous ``wait_for_message`` returned, whichever is later. So

    await user.send_text("hi")
    first = await user.wait_for_message()
    second = await user.wait_for_message()

sees the two replies in order even if the bot answered before the first wait began.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING, Any

from bot.sandbox.faults import SandboxError
from bot.sandbox.formatting import command_target, user_entities
from bot.sandbox.objects import inline_buttons
from bot.sandbox.state import ChatEvent, ChatState, MessageRecord, copy_json

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi

Predicate = Callable[[dict[str, Any]], bool]


class ChatHandle:
    """What a test sees of one chat: the bot's messages in it, and waiting for new ones."""

    def __init__(self, api: SandboxBotApi, chat_id: int) -> None:
        self._api = api
        self._chat_id = chat_id

    @property
    def chat_id(self) -> int:
        """The chat's id (a group's changes when it is migrated)."""
        return self._chat_id

    @property
    def state(self) -> ChatState:
        return self._api.state.chats[self._chat_id]

    @property
    def chat(self) -> dict[str, Any]:
        """The ``Chat`` object as the bot sees it."""
        return copy_json(self.state.chat)

    @property
    def records(self) -> list[MessageRecord]:
        """The bot's messages (not deleted) with the raw text and parse mode it sent them with."""
        return [record for record in self.state.live_records() if record.from_bot]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The bot's messages in this chat, oldest first, edits applied, deleted ones left out."""
        return [copy_json(record.message) for record in self.records]

    @property
    def last_message(self) -> dict[str, Any] | None:
        """The bot's latest message in this chat, or None."""
        for record in reversed(self.state.records.values()):
            if record.from_bot and not record.deleted:
                return copy_json(record.message)
        return None

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every message in the chat, the users' included, oldest first."""
        return [copy_json(record.message) for record in self.state.live_records()]

    @property
    def reply_keyboard(self) -> dict[str, Any] | None:
        """The reply keyboard the bot last showed here (``ReplyKeyboardMarkup``), if any."""
        return copy_json(self.state.reply_keyboard)

    def mark(self) -> int:
        """The current position in the sandbox's sequence of changes, for ``wait_for_message``."""
        return self._api.state.seq

    async def wait_for_message(
        self,
        predicate: Predicate | None = None,
        *,
        after: int | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """The first bot message sent or edited here after ``after`` that matches ``predicate``.

        The message is returned as it was at that change. Raises ``TimeoutError`` (listing the
        bot's recent messages) when none arrives within ``timeout`` seconds.
        """
        chat = self.state
        start = chat.wait_cursor if after is None else after

        def find() -> ChatEvent | None:
            # Events are in seq order: skip those up to ``start`` without looking at them.
            events = chat.events
            for event in islice(events, bisect_right(events, start, key=_seq), None):
                if not event.from_bot or event.kind == "deleted":
                    continue
                if predicate is None or predicate(event.message):
                    return event
            return None

        # Only this chat's changes can produce a match, so wait on its own signal.
        event = await chat.signal.wait_for(find, timeout)
        if event is None:
            recent = [m.get("text", m.get("caption")) for m in self.messages[-5:]]
            raise TimeoutError(
                f"no matching bot message in chat {self._chat_id} within {timeout}s after "
                f"position {start}; the bot's last messages here: {recent!r}"
            )
        chat.wait_cursor = max(chat.wait_cursor, event.seq)
        return copy_json(event.message)

    def _begin_action(self, chat: ChatState) -> None:
        chat.wait_cursor = self._api.state.seq


class SandboxGroup(ChatHandle):
    """A group or supergroup; users write in it with ``user.send_text(..., chat=group)``."""

    @property
    def title(self) -> str:
        return self.state.chat["title"]


class SandboxUser(ChatHandle):
    """A person with a private chat with the bot (the chat id is the user id)."""

    @property
    def user_id(self) -> int:
        return self._chat_id

    @property
    def user(self) -> dict[str, Any]:
        """The ``User`` object the bot sees as ``from``."""
        return copy_json(self._api.state.users[self.user_id])

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        """``answerCallbackQuery`` calls for this user's presses: text, show_alert, url..."""
        answers = self._api.state.callback_answers
        return [dict(a) for a in answers if a["user_id"] == self.user_id]

    async def send_text(
        self,
        text: str,
        *,
        chat: ChatHandle | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write ``text`` in the private chat, or in ``chat`` (a group); returns the message.

        Queues a ``message`` update when the bot would get one: always in the private chat; in a
        group only if the bot is a member and, in privacy mode, the text is a command (not
        addressed to another bot), mentions the bot or replies to the bot.
        """
        if not isinstance(text, str) or not text:
            raise SandboxError("a message needs non-empty text")
        target = self._writable(self.state if chat is None else chat.state)
        message: dict[str, Any] = {"from": self._api.state.users[self.user_id], "chat": target.chat}
        message["date"] = self._api.state.now()
        replied = None
        if reply_to is not None:
            replied = target.records.get(reply_to.get("message_id", -1))
            if replied is None or replied.deleted:
                raise SandboxError("reply_to is not a message of this chat")
            message["reply_to_message"] = copy_json(replied.message)
            message["reply_to_message"].pop("reply_to_message", None)
        message["text"] = text
        entities = user_entities(text)
        if entities:
            message["entities"] = entities
        self._begin_action(target)
        record = self._api.state.add_message(target, message, from_bot=False)
        if self._bot_sees(target, text, replied):
            self._api.state.updates.push("message", record.message)
        return copy_json(record.message)

    async def send_command(
        self, command: str, payload: str | None = None, *, chat: ChatHandle | None = None
    ) -> dict[str, Any]:
        """Send ``/command`` (``payload`` after a space), e.g. ``send_command("start", "ABC")``."""
        text = "/" + command.removeprefix("/")
        if payload:
            text += f" {payload}"
        return await self.send_text(text, chat=chat)

    async def press(self, message: dict[str, Any], data: str) -> dict[str, Any]:
        """Press a button with ``callback_data`` ``data`` under a bot message; returns the query.

        The data is not checked against the keyboard, so tests can replay stale or forged
        presses; :meth:`press_button` presses only buttons that exist.
        """
        chat, record = self._pressable(message)
        state = self._api.state
        query = {
            "id": state.new_callback_query_id(),
            "from": state.users[self.user_id],
            "message": record.message,
            "chat_instance": str((chat.chat_id * 2654435761 + self._api.bot_id) % 10**19),
            "data": data,
        }
        state.callback_queries[query["id"]] = {"query": copy_json(query), "answered": False}
        self._begin_action(chat)
        state.updates.push("callback_query", query)
        return copy_json(query)

    async def press_button(self, message: dict[str, Any] | None, text: str) -> dict[str, Any]:
        """Press the inline button labelled ``text`` (exact, else a unique substring).

        Looks at the message's current keyboard; with ``message=None`` at the newest bot message
        in this chat that has such a button. Raises ``SandboxError`` if there is none.
        """
        if message is None:
            for candidate in reversed(self.messages):
                if _find_button(candidate, text, strict=False):
                    message = candidate
                    break
            else:
                raise SandboxError(f"no bot message in chat {self.user_id} has a button {text!r}")
        _, record = self._pressable(message)
        button = _find_button(record.message, text, strict=True)
        assert button is not None
        if "callback_data" not in button:
            raise SandboxError(f"button {button['text']!r} has no callback_data: {button}")
        return await self.press(record.message, button["callback_data"])

    async def wait_for_answer(self, query: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Wait until the bot answered the callback query returned by :meth:`press`."""

        def find() -> dict[str, Any] | None:
            for answer in self._api.state.callback_answers:
                if answer["callback_query_id"] == query["id"]:
                    return answer
            return None

        answer = await self._api.state.changed.wait_for(find, timeout)
        if answer is None:
            raise TimeoutError(f"the bot did not answer callback query {query['id']} in {timeout}s")
        return dict(answer)

    def _writable(self, target: ChatState) -> ChatState:
        if target.migrated_to is not None:
            raise SandboxError(f"chat {target.chat_id} was migrated to {target.migrated_to}")
        if not target.is_group and target.chat_id != self.user_id:
            raise SandboxError(f"user {self.user_id} can't write in private chat {target.chat_id}")
        if not target.is_group and target.bot_status == "kicked":
            raise SandboxError(
                f"user {self.user_id} blocked the bot; call server.unblock_bot(user) first"
            )
        return target

    def _bot_sees(self, chat: ChatState, text: str, replied: MessageRecord | None) -> bool:
        if not chat.is_group:
            return True
        if chat.bot_status != "member":
            return False
        if self._api.can_read_all_group_messages:
            return True
        command = command_target(text)
        username = self._api.bot_username.lower()
        if command is not None and (command[1] is None or command[1].lower() == username):
            return True
        if f"@{username}" in text.lower():
            return True
        return replied is not None and replied.from_bot

    def _pressable(self, message: dict[str, Any]) -> tuple[ChatState, MessageRecord]:
        try:
            chat_id, message_id = message["chat"]["id"], message["message_id"]
        except (KeyError, TypeError):
            raise SandboxError("press needs a message dict with chat.id and message_id") from None
        chat = self._api.state.chat(chat_id)
        if chat is None:
            raise SandboxError(f"unknown chat {chat_id}")
        self._writable(chat)
        record = chat.records.get(message_id)
        if record is None or record.deleted or not record.from_bot:
            raise SandboxError(f"no bot message {message_id} in chat {chat_id}")
        return chat, record


def _seq(event: ChatEvent) -> int:
    return event.seq


def _find_button(message: dict[str, Any], text: str, *, strict: bool) -> dict[str, Any] | None:
    buttons = inline_buttons(message)
    for button in buttons:
        if button.get("text") == text:
            return button
    partial = [button for button in buttons if text in button.get("text", "")]
    if len(partial) == 1:
        return partial[0]
    if strict:
        labels = [button.get("text") for button in buttons]
        problem = "several buttons contain" if partial else "no button matches"
        raise SandboxError(f"{problem} {text!r}; the buttons are {labels!r}")
    return None
