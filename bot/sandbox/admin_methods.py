"""Bot API methods about the bot itself and its chats: getMe, commands, getChat, leaveChat..."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bot.sandbox.faults import BotApiFault
from bot.sandbox.methods import Method, target_chat
from bot.sandbox.objects import chat_full_info_json, chat_member_updated_json
from bot.sandbox.params import Params

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi

_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_SCOPES_WITHOUT_CHAT = (
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
)
MAX_COMMANDS = 100


def scope_key(scope: dict[str, Any] | None) -> str:
    """The key of a ``BotCommandScope`` in :attr:`SandboxBotApi.commands`.

    ``"default"``, ``"all_private_chats"``, ``"all_group_chats"``, ``"all_chat_administrators"``,
    ``"chat:<chat_id>"``, ``"chat_administrators:<chat_id>"`` or
    ``"chat_member:<chat_id>:<user_id>"``.
    """
    if scope is None:
        return "default"
    kind = scope.get("type")
    if kind in _SCOPES_WITHOUT_CHAT:
        return str(kind)
    if kind in ("chat", "chat_administrators") and scope.get("chat_id") is not None:
        return f"{kind}:{scope['chat_id']}"
    if kind == "chat_member" and scope.get("chat_id") is not None and scope.get("user_id"):
        return f"chat_member:{scope['chat_id']}:{scope['user_id']}"
    raise BotApiFault.bad_request("can't parse BotCommandScope JSON object")


def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.get_object("scope", what="BotCommandScope")
    return scope_key(scope), p.get_str("language_code") or ""


async def get_me(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    return {
        **api.bot_user,
        "can_join_groups": True,
        "can_read_all_group_messages": api.can_read_all_group_messages,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def set_my_commands(api: SandboxBotApi, p: Params) -> bool:
    commands = p.get_list("commands", what="commands")
    if commands is None:
        raise BotApiFault.bad_request('parameter "commands" is required')
    if len(commands) > MAX_COMMANDS:
        raise BotApiFault.bad_request("too many commands specified")
    checked = []
    for command in commands:
        if not isinstance(command, dict):
            raise BotApiFault.bad_request("can't parse BotCommand JSON object")
        name, description = command.get("command"), command.get("description")
        if not isinstance(name, str) or not _COMMAND_NAME.match(name.removeprefix("/")):
            raise BotApiFault.bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise BotApiFault.bad_request("command description is empty or too long")
        checked.append({"command": name.removeprefix("/"), "description": description})
    key = _commands_key(p)
    if checked:
        api.commands[key] = checked
    else:
        api.commands.pop(key, None)  # an empty list clears the scope, as deleteMyCommands does
    return True


async def get_my_commands(api: SandboxBotApi, p: Params) -> list[dict[str, str]]:
    return [dict(command) for command in api.commands.get(_commands_key(p), [])]


async def delete_my_commands(api: SandboxBotApi, p: Params) -> bool:
    api.commands.pop(_commands_key(p), None)
    return True


async def get_chat(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    return chat_full_info_json(target_chat(api, p, writing=False).chat)


async def leave_chat(api: SandboxBotApi, p: Params) -> bool:
    chat = target_chat(api, p, writing=False)
    if not chat.is_group:
        raise BotApiFault.bad_request("chat member status can't be changed in private chats")
    if chat.bot_status != "member":
        raise BotApiFault.forbidden(f"bot is not a member of the {chat.chat['type']} chat")
    chat.bot_status = "left"
    # Telegram confirms the bot's own departure with a my_chat_member update from the bot.
    api.state.updates.push(
        "my_chat_member",
        chat_member_updated_json(
            chat.chat, api.bot_user, api.bot_user, "member", "left", api.state.now()
        ),
    )
    return True


async def accept(api: SandboxBotApi, p: Params) -> bool:
    """close and logOut: nothing to release in the sandbox, Telegram answers true."""
    return True


METHODS: dict[str, Method] = {
    "getMe": get_me,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "getChat": get_chat,
    "leaveChat": leave_chat,
    "close": accept,
    "logOut": accept,
}
