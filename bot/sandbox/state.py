"""Everything the sandbox remembers: chats, their messages, the update queue and id counters.

Changes are announced through :class:`Signal`, a broadcast that synchronous code can fire (so
``server.block_bot(user)`` can queue an update without awaiting) and coroutines can wait on with
a timeout; nothing here polls with sleeps. Every chat has its own signal besides the global
:attr:`SandboxState.changed`, so a send wakes only those waiting on that chat.

Stored messages are JSON trees; an edit stores a new dict rather than changing the old one, and
copies handed out or snapshotted are made with :func:`copy_json`.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

_ATOMIC = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-like value: like ``copy.deepcopy`` (which it falls back to for
    other types), but several times faster on the dicts, lists and scalars of Bot API objects."""
    cls = type(value)
    if cls is dict:
        return {k: v if type(v) in _ATOMIC else copy_json(v) for k, v in value.items()}
    if cls is list:
        return [v if type(v) in _ATOMIC else copy_json(v) for v in value]
    if cls in _ATOMIC:
        return value
    return copy.deepcopy(value)


# Update types Telegram leaves out unless they are asked for by name in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class Signal:
    """Wakes every waiter when fired; firing needs no lock and no running coroutine."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None  # made by the first waiter; firing is free

    def fire(self) -> None:
        """Wake everyone waiting now; later waiters wait for the next fire."""
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait_for(self, check: Callable[[], T | None], timeout: float) -> T | None:
        """The first truthy ``check()`` result, re-checked after each fire; None on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            # Taken before checking, so a fire in between is not missed.
            event = self._event
            if event is None:
                event = self._event = asyncio.Event()
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return check() or None


@dataclass
class MessageRecord:
    """One message of a chat: its Telegram JSON (edits applied) and what the bot actually sent.

    ``raw_text`` is the text or caption exactly as the bot passed it, markup included, and
    ``parse_mode`` the mode it named; ``message["text"]`` is the plain text Telegram would
    return. Both are None for messages written by simulated users.
    """

    message: dict[str, Any]
    from_bot: bool
    raw_text: str | None = None
    parse_mode: str | None = None
    deleted: bool = False

    @property
    def message_id(self) -> int:
        return self.message["message_id"]


@dataclass
class ChatEvent:
    """A change in a chat: ``kind`` is "sent", "edited" or "deleted"; ``message`` a snapshot."""

    seq: int
    kind: str
    message: dict[str, Any]
    from_bot: bool


@dataclass
class ChatState:
    """A chat the sandbox knows, with the bot's standing in it."""

    chat: dict[str, Any]
    bot_status: str = "member"  # "member", "left" or "kicked" (blocked / removed)
    migrated_to: int | None = None
    records: dict[int, MessageRecord] = field(default_factory=dict)
    events: list[ChatEvent] = field(default_factory=list)
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None
    wait_cursor: int = 0  # see ChatHandle.wait_for_message
    # Fired on every event of this chat (after ``events`` got it), for wait_for_message.
    signal: Signal = field(default_factory=Signal, repr=False, compare=False)

    @property
    def chat_id(self) -> int:
        return self.chat["id"]

    @property
    def is_group(self) -> bool:
        return self.chat["type"] in ("group", "supergroup")

    def live_records(self) -> list[MessageRecord]:
        return [record for record in self.records.values() if not record.deleted]


class UpdateQueue:
    """Pending updates in id order; ``getUpdates`` and the webhook both consume from here.

    Every operation costs O(1) per update it touches, so bursts of tens of thousands stay cheap:
    the updates live in an ``OrderedDict`` keyed by id (ids only grow, so insertion order is id
    order), which pops from the front, deletes any single id (the webhook confirms out of order)
    and walks back from the newest, all in O(1) a step.

    ``allowed_updates`` drops unwanted updates when they are next handed out, as before; each
    update is checked once, and all of them again only after the setting changed.
    """

    def __init__(self, first_update_id: int | None = None) -> None:
        self._pending: OrderedDict[int, dict[str, Any]] = OrderedDict()
        # Like Telegram's, ids keep growing across restarts of the server: a bot that records
        # processed update ids (ours does) would otherwise ignore a restarted sandbox's updates.
        self.next_update_id = first_update_id or time.time_ns() // 1000
        self._allowed_updates: list[str] = []
        self._checked_below = self.next_update_id  # ids below were checked against the filter
        self.signal = Signal()

    @property
    def allowed_updates(self) -> list[str]:
        return self._allowed_updates

    @allowed_updates.setter
    def allowed_updates(self, kinds: list[str]) -> None:
        if kinds != self._allowed_updates:
            self._checked_below = 0  # what passed the old filter may fail the new one
        self._allowed_updates = kinds

    @property
    def pending(self) -> list[dict[str, Any]]:
        """The pending updates in id order, for inspection (a new list each time, O(n))."""
        return list(self._pending.values())

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``{"update_id": n, kind: payload}`` and wake long polls and the webhook."""
        update = {"update_id": self.next_update_id, kind: copy_json(payload)}
        self._pending[self.next_update_id] = update
        self.next_update_id += 1
        self.signal.fire()
        return update

    def confirm_below(self, update_id: int) -> None:
        """Forget updates with an id lower than ``update_id`` (getUpdates' offset semantics)."""
        pending = self._pending
        while pending and next(iter(pending)) < update_id:
            pending.popitem(last=False)

    def confirm(self, update_id: int) -> None:
        """Forget one update (the webhook got a 2xx for it); unknown ids are ignored. Wakes
        whoever waits for the queue to drain."""
        if self._pending.pop(update_id, None) is not None:
            self.signal.fire()

    def keep_last(self, count: int) -> None:
        """Negative offsets: keep only the last ``count`` updates."""
        pending = self._pending
        while len(pending) > count:
            pending.popitem(last=False)

    def deliverable(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` pending updates of allowed types; others are dropped for good."""
        self._drop_disallowed()
        return copy_json(list(itertools.islice(self._pending.values(), limit)))

    def newer_than(self, update_id: int) -> list[dict[str, Any]]:
        """The pending updates of allowed types with an id above ``update_id``, in id order.

        Costs O(1) per update returned: the webhook remembers the last id it took and asks
        only for what came after it.
        """
        self._drop_disallowed()
        return copy_json(self._newest_down_to(update_id)[::-1])

    def is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in OPT_IN_UPDATES

    def drop_all(self) -> None:
        self._pending.clear()

    def _drop_disallowed(self) -> None:
        for update in self._newest_down_to(self._checked_below - 1):
            if not self.is_allowed(update):
                del self._pending[update["update_id"]]
        self._checked_below = self.next_update_id

    def _newest_down_to(self, update_id: int) -> list[dict[str, Any]]:
        """Pending updates with an id above ``update_id``, newest first."""
        newer = []
        for pending_id in reversed(self._pending):
            if pending_id <= update_id:
                break
            newer.append(self._pending[pending_id])
        return newer


class SandboxState:
    """Chats, users, callback queries and counters shared by the Bot API and the helpers."""

    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self.wall_clock = wall_clock
        self.users: dict[int, dict[str, Any]] = {}
        self.chats: dict[int, ChatState] = {}
        self.updates = UpdateQueue()
        self.changed = Signal()  # every chat event and callback answer; see ChatState.signal
        self.seq = 0
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self._next_query = 1
        self._next_file = 1

    def now(self) -> int:
        """Message dates are whole Unix seconds."""
        return int(self.wall_clock())

    def chat(self, chat_id: int) -> ChatState | None:
        return self.chats.get(chat_id)

    def add_message(
        self,
        chat: ChatState,
        message: dict[str, Any],
        *,
        from_bot: bool,
        raw_text: str | None = None,
        parse_mode: str | None = None,
    ) -> MessageRecord:
        """Store a new message; ``message`` must not carry ``message_id``/``date`` yet."""
        message = {"message_id": chat.next_message_id, **message}
        message.setdefault("date", self.now())
        chat.next_message_id += 1
        record = MessageRecord(message, from_bot, raw_text, parse_mode)
        chat.records[record.message_id] = record
        self._event(chat, "sent", record)
        return record

    def edit_message(
        self,
        chat: ChatState,
        record: MessageRecord,
        message: dict[str, Any],
        *,
        raw_text: str | None = None,
        parse_mode: str | None = None,
    ) -> None:
        record.message = message
        record.raw_text = raw_text
        record.parse_mode = parse_mode
        self._event(chat, "edited", record)

    def delete_message(self, chat: ChatState, record: MessageRecord) -> None:
        record.deleted = True
        self._event(chat, "deleted", record)

    def _event(self, chat: ChatState, kind: str, record: MessageRecord) -> None:
        self.seq += 1
        chat.events.append(ChatEvent(self.seq, kind, copy_json(record.message), record.from_bot))
        chat.signal.fire()
        self.changed.fire()

    def new_callback_query_id(self) -> str:
        # Telegram's ids are opaque decimal strings; a recognisable prefix helps in logs.
        query_id = f"{770000000000000000 + self._next_query}"
        self._next_query += 1
        return query_id

    def new_file_ids(self) -> tuple[str, str]:
        number = self._next_file
        self._next_file += 1
        return f"SBX-file-{number:06d}", f"SBXu{number:06d}"

    def record_answer(self, answer: dict[str, Any]) -> None:
        self.seq += 1  # a change too: the chat page shows answers as toasts
        self.callback_answers.append(answer)
        self.changed.fire()
