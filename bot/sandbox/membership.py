"""Changes in the bot's standing in a chat, with the updates Telegram sends about them.

Adding the bot to a group, removing it, a user blocking it, a group upgraded to a supergroup:
each changes what the Bot API answers afterwards and queues the ``my_chat_member`` and service
messages the real server would send.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.sandbox.faults import SandboxError
from bot.sandbox.objects import chat_member_updated_json, group_chat_json
from bot.sandbox.state import ChatState

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi
    from bot.sandbox.users import SandboxGroup, SandboxUser


def set_bot_status(
    api: SandboxBotApi, chat: ChatState, by: dict[str, Any], new_status: str
) -> dict[str, Any] | None:
    """Move the bot to ``new_status`` in ``chat``; queue and return the my_chat_member update."""
    old_status = chat.bot_status
    if old_status == new_status:
        return None
    chat.bot_status = new_status
    payload = chat_member_updated_json(
        chat.chat, by, api.bot_user, old_status, new_status, api.state.now()
    )
    return api.state.updates.push("my_chat_member", payload)


def _service_message(
    api: SandboxBotApi, chat: ChatState, by: dict[str, Any] | None, fields: dict[str, Any]
) -> None:
    message: dict[str, Any] = {}
    if by is not None:
        message["from"] = by
    message.update({"chat": chat.chat, "date": api.state.now(), **fields})
    record = api.state.add_message(chat, message, from_bot=False)
    if chat.bot_status == "member":
        api.state.updates.push("message", record.message)


async def add_bot_to_group(
    api: SandboxBotApi,
    group: SandboxGroup,
    by: SandboxUser,
    start_payload: str | None = None,
    *,
    service_message: bool = True,
) -> None:
    """What Telegram sends when ``by`` adds the bot through ``t.me/<bot>?startgroup=<payload>``.

    In order: a ``my_chat_member`` update (left -> member), the ``new_chat_members`` service
    message (unless ``service_message`` is False) and, with a payload, the message
    ``/start@<bot> <payload>`` from ``by``.
    """
    chat = group.state
    if chat.migrated_to is not None:
        raise SandboxError(f"group {chat.chat_id} was migrated to {chat.migrated_to}")
    user = api.state.users[by.user_id]
    set_bot_status(api, chat, user, "member")
    if service_message:
        _service_message(api, chat, user, {"new_chat_members": [api.bot_user]})
    if start_payload is not None:
        await by.send_text(f"/start@{api.bot_username} {start_payload}".rstrip(), chat=group)


def remove_bot_from_group(api: SandboxBotApi, group: SandboxGroup, by: SandboxUser) -> None:
    """``by`` removes the bot from the group: member -> kicked, sends then answer 403."""
    user = api.state.users[by.user_id]
    set_bot_status(api, group.state, user, "kicked")


def block_bot(api: SandboxBotApi, user: SandboxUser) -> None:
    """The user blocks the bot: my_chat_member member -> kicked, sends then answer 403."""
    set_bot_status(api, user.state, api.state.users[user.user_id], "kicked")


def unblock_bot(api: SandboxBotApi, user: SandboxUser) -> None:
    """The user unblocks the bot (restarts it): my_chat_member kicked -> member."""
    set_bot_status(api, user.state, api.state.users[user.user_id], "member")


def migrate_group(
    api: SandboxBotApi, group: SandboxGroup, new_chat_id: int, by: SandboxUser | None = None
) -> None:
    """Upgrade a group to the supergroup ``new_chat_id``, as Telegram does.

    The old chat gets a ``migrate_to_chat_id`` service message and from then on every send to it
    answers 400 with ``parameters.migrate_to_chat_id``; the new supergroup starts with a
    ``migrate_from_chat_id`` message. The ``group`` handle follows the group to its new id.
    """
    old = group.state
    if old.migrated_to is not None:
        raise SandboxError(f"group {old.chat_id} was already migrated to {old.migrated_to}")
    if new_chat_id in api.state.chats:
        raise SandboxError(f"chat {new_chat_id} already exists")
    sender = api.state.users[by.user_id] if by is not None else None
    new = ChatState(
        chat=group_chat_json(new_chat_id, old.chat["title"], "supergroup"),
        bot_status=old.bot_status,
    )
    api.state.chats[new_chat_id] = new
    _service_message(api, old, sender, {"migrate_to_chat_id": new_chat_id})
    old.migrated_to = new_chat_id
    _service_message(api, new, sender, {"migrate_from_chat_id": old.chat_id})
    api.move_group_handle(group, new_chat_id)
