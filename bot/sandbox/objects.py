"""Builders for Telegram's JSON objects, with exactly the fields the Bot API sends.

PTB puts any field it does not know into ``api_kwargs``; the tests assert that stays empty for
everything the sandbox returns, so these shapes track PTB's classes (``telegram/_user.py``,
``_chat.py``, ``_message.py``...). Optional fields are left out when empty, as Telegram does.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from yarl import URL

from bot.sandbox.faults import BotApiFault

MAX_CALLBACK_DATA_BYTES = 64
_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def user_json(
    user_id: int,
    first_name: str,
    *,
    is_bot: bool = False,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
) -> dict[str, Any]:
    """A ``User`` object."""
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def private_chat_json(user: dict[str, Any]) -> dict[str, Any]:
    """The ``Chat`` of a private conversation: its id is the user's id."""
    chat: dict[str, Any] = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if user.get(key):
            chat[key] = user[key]
    return chat


def group_chat_json(chat_id: int, title: str, chat_type: str) -> dict[str, Any]:
    """The ``Chat`` of a group or supergroup."""
    return {"id": chat_id, "type": chat_type, "title": title}


def chat_full_info_json(chat: dict[str, Any]) -> dict[str, Any]:
    """``getChat``'s ``ChatFullInfo``: the chat plus the fields that object requires."""
    info = dict(chat)
    info.update(
        {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
    )
    return info


def chat_member_json(user: dict[str, Any], status: str) -> dict[str, Any]:
    """A ``ChatMember`` with ``status`` member, left or kicked (the ones the sandbox uses)."""
    member: dict[str, Any] = {"status": status, "user": user}
    if status == "kicked":
        member["until_date"] = 0  # 0 means "forever", as in Telegram's answers
    return member


def chat_member_updated_json(
    chat: dict[str, Any],
    by: dict[str, Any],
    member: dict[str, Any],
    old_status: str,
    new_status: str,
    date: int,
) -> dict[str, Any]:
    """A ``ChatMemberUpdated``, the payload of ``my_chat_member`` updates."""
    return {
        "chat": chat,
        "from": by,
        "date": date,
        "old_chat_member": chat_member_json(member, old_status),
        "new_chat_member": chat_member_json(member, new_status),
    }


def check_reply_markup(markup: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Validate ``reply_markup``: (inline markup for the message, reply keyboard change or None).

    Telegram echoes only inline keyboards back in the message; reply keyboards, their removal and
    force_reply change what the person's client shows, returned second so the sandbox can show it.
    """
    if markup is None:
        return None, None
    if not isinstance(markup, dict):
        raise BotApiFault.bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return {"inline_keyboard": _inline_rows(markup["inline_keyboard"])}, None
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise BotApiFault.bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup must be an Array'
            )
        # Telegram accepts plain strings as buttons; normalise them to KeyboardButton objects.
        rows = [[{"text": b} if isinstance(b, str) else b for b in row] for row in rows]
        return None, {**markup, "keyboard": rows}
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return None, markup
    raise BotApiFault.bad_request("can't parse reply keyboard markup JSON object")


def _inline_rows(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise BotApiFault.bad_request(
            'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of '
            "Arrays"
        )
    checked = []
    for row in rows:
        checked_row = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise BotApiFault.bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            if not any(action in button for action in _INLINE_BUTTON_ACTIONS):
                raise BotApiFault.bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None:
                if not isinstance(data, str):
                    raise BotApiFault.bad_request("BUTTON_DATA_INVALID")
                if not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
                    raise BotApiFault.bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not _valid_button_url(button["url"]):
                raise BotApiFault.bad_request("BUTTON_URL_INVALID")
            checked_row.append(dict(button))
        checked.append(checked_row)
    return checked


def _valid_button_url(url: Any) -> bool:
    if not isinstance(url, str) or not url:
        return False
    try:
        parsed = URL(url)
    except ValueError:
        return False
    return parsed.scheme in ("http", "https", "tg") and bool(parsed.host or parsed.scheme == "tg")


def is_loopback_host(host: str | None) -> bool:
    """Whether a webhook host is this machine; the sandbox sends nothing anywhere else."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def inline_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """All inline keyboard buttons of a message dict, row by row."""
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]
