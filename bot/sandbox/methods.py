"""Bot API methods that send, edit and delete messages or answer button presses.

Each method takes the server and the call's :class:`Params`, returns the ``result`` value or
raises :class:`BotApiFault` with the description Telegram uses for the same mistake. The server
JSON-encodes the result at once, so a method may return stored objects without copying them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yarl import URL

from bot.sandbox.faults import BotApiFault
from bot.sandbox.formatting import render
from bot.sandbox.objects import check_reply_markup
from bot.sandbox.params import Params, UploadedFile
from bot.sandbox.state import ChatState, MessageRecord, copy_json

if TYPE_CHECKING:
    from bot.sandbox.server import SandboxBotApi

Method = Callable[["SandboxBotApi", Params], Awaitable[Any]]


@dataclass(frozen=True)
class Described:
    """A result Telegram sends with a ``description`` next to it ("Webhook was set")."""

    result: Any
    description: str


MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"


def target_chat(api: SandboxBotApi, p: Params, *, writing: bool = True) -> ChatState:
    """The chat named by ``chat_id``, refusing the way Telegram does when the bot can't write.

    ``writing`` adds the checks for sending and editing: blocked by the user, not (or no longer)
    a member of the group.
    """
    raw = p.get("chat_id")
    if raw is None or raw == "":
        raise BotApiFault.bad_request("chat_id is empty")
    try:
        if isinstance(raw, bool | float):
            raise TypeError
        chat_id = int(raw)
    except (TypeError, ValueError):
        # "@channelusername" targets public channels; the sandbox has none.
        raise BotApiFault.bad_request("chat not found") from None
    chat = api.state.chat(chat_id)
    if chat is None:
        raise BotApiFault.bad_request("chat not found")
    if chat.migrated_to is not None:
        raise BotApiFault.migrated(chat.migrated_to)
    if writing:
        if not chat.is_group and chat.bot_status == "kicked":
            raise BotApiFault.forbidden("bot was blocked by the user")
        if chat.is_group and chat.bot_status == "kicked":
            raise BotApiFault.forbidden(f"bot was kicked from the {chat.chat['type']} chat")
        if chat.is_group and chat.bot_status != "member":
            raise BotApiFault.forbidden(f"bot is not a member of the {chat.chat['type']} chat")
    return chat


def _rate_limit(api: SandboxBotApi, chat: ChatState, p: Params) -> None:
    if not api.enforce_limits:
        return
    retry_after = api.limiter.acquire(
        chat.chat_id, is_group=chat.is_group, paid_broadcast=p.get_bool("allow_paid_broadcast")
    )
    if retry_after is not None:
        raise BotApiFault.too_many_requests(retry_after)


def _reply_to(chat: ChatState, p: Params) -> dict[str, Any] | None:
    parameters = p.get_object("reply_parameters", what="reply parameters")
    if parameters is not None:
        message_id = parameters.get("message_id")
        allow_missing = bool(parameters.get("allow_sending_without_reply"))
    else:
        message_id = p.get_int("reply_to_message_id")
        allow_missing = p.get_bool("allow_sending_without_reply")
    if message_id is None:
        return None
    record = chat.records.get(message_id) if isinstance(message_id, int) else None
    if record is None or record.deleted:
        if allow_missing:
            return None
        raise BotApiFault.bad_request("message to be replied not found")
    replied = copy_json(record.message)
    replied.pop("reply_to_message", None)  # Telegram never nests replies further
    return replied


def _link_preview(p: Params) -> dict[str, Any] | None:
    options = p.get_object("link_preview_options", what="link preview options")
    if options is None and p.get_bool("disable_web_page_preview"):
        options = {"is_disabled": True}
    return options


def _new_bot_message(
    api: SandboxBotApi,
    chat: ChatState,
    p: Params,
    content: dict[str, Any],
    *,
    raw_text: str,
    inline: dict[str, Any] | None,
    keyboard: dict[str, Any] | None,
) -> dict[str, Any]:
    """Common tail of all send methods: reply, limits, storing, keyboard state."""
    reply = _reply_to(chat, p)
    _rate_limit(api, chat, p)
    message: dict[str, Any] = {"from": api.bot_user, "chat": chat.chat, "date": api.state.now()}
    if reply is not None:
        message["reply_to_message"] = reply
    message.update(content)
    if inline is not None:
        message["reply_markup"] = inline
    if p.get_bool("protect_content"):
        message["has_protected_content"] = True
    if keyboard is not None:
        if "keyboard" in keyboard:
            chat.reply_keyboard = keyboard
        elif keyboard.get("remove_keyboard"):
            chat.reply_keyboard = None
    record = api.state.add_message(
        chat, message, from_bot=True, raw_text=raw_text, parse_mode=p.get_str("parse_mode")
    )
    return record.message


def _text_content(p: Params, *, field: str = "text") -> tuple[str, dict[str, Any]]:
    """(raw text as sent, {field: plain text, entities field: entities}) for text or caption."""
    entities_field = "entities" if field == "text" else "caption_entities"
    raw = p.get_str(field) or ""
    plain, entities = render(raw, p.get_str("parse_mode"), p.get_list(entities_field))
    content: dict[str, Any] = {field: plain}
    if entities:
        content[entities_field] = entities
    return raw, content


async def send_message(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    chat = target_chat(api, p)
    raw, content = _text_content(p)
    if not content["text"]:
        raise BotApiFault.bad_request("message text is empty")
    if len(content["text"]) > MAX_TEXT_LENGTH:
        raise BotApiFault.bad_request("message is too long")
    inline, keyboard = check_reply_markup(p.get("reply_markup"))
    preview = _link_preview(p)
    if preview is not None:
        content["link_preview_options"] = preview
    return _new_bot_message(api, chat, p, content, raw_text=raw, inline=inline, keyboard=keyboard)


def _editable(api: SandboxBotApi, p: Params) -> tuple[ChatState, MessageRecord]:
    if p.get("inline_message_id") is not None:
        # Inline messages need inline mode, which this bot does not use.
        raise BotApiFault.bad_request("message to edit not found")
    chat = target_chat(api, p)
    message_id = p.get_int(
        "message_id", required=True, missing="message identifier is not specified"
    )
    record = chat.records.get(message_id)
    if record is None or record.deleted:
        raise BotApiFault.bad_request("message to edit not found")
    if not record.from_bot:
        raise BotApiFault.bad_request("message can't be edited")
    return chat, record


def _edited(api: SandboxBotApi, record: MessageRecord, changes: dict[str, Any]) -> dict[str, Any]:
    """The message with ``changes`` applied (None values remove a field), or 400 if unchanged."""
    edited = copy_json(record.message)
    for key, value in changes.items():
        if value is None:
            edited.pop(key, None)
        else:
            edited[key] = value
    compared = ("text", "entities", "caption", "caption_entities", "reply_markup")
    if all(edited.get(key) == record.message.get(key) for key in compared):
        raise BotApiFault.bad_request(NOT_MODIFIED)
    edited["edit_date"] = api.state.now()
    return edited


async def edit_message_text(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    chat, record = _editable(api, p)
    if "text" not in record.message:
        raise BotApiFault.bad_request("there is no text in the message to edit")
    raw, content = _text_content(p)
    if not content["text"]:
        raise BotApiFault.bad_request("message text is empty")
    if len(content["text"]) > MAX_TEXT_LENGTH:
        raise BotApiFault.bad_request("message is too long")
    inline, _ = check_reply_markup(p.get("reply_markup"))
    # Leaving out reply_markup removes the keyboard, exactly like Telegram.
    changes = {"text": content["text"], "entities": content.get("entities"), "reply_markup": inline}
    preview = _link_preview(p)
    if preview is not None:
        changes["link_preview_options"] = preview
    edited = _edited(api, record, changes)
    api.state.edit_message(chat, record, edited, raw_text=raw, parse_mode=p.get_str("parse_mode"))
    return edited


async def edit_message_caption(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    chat, record = _editable(api, p)
    if "text" in record.message:
        raise BotApiFault.bad_request("there is no caption in the message to edit")
    raw, content = _text_content(p, field="caption")
    if len(content["caption"]) > MAX_CAPTION_LENGTH:
        raise BotApiFault.bad_request("message caption is too long")
    inline, _ = check_reply_markup(p.get("reply_markup"))
    changes = {
        "caption": content["caption"] or None,
        "caption_entities": content.get("caption_entities"),
        "reply_markup": inline,
    }
    edited = _edited(api, record, changes)
    api.state.edit_message(chat, record, edited, raw_text=raw, parse_mode=p.get_str("parse_mode"))
    return edited


async def edit_message_reply_markup(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    chat, record = _editable(api, p)
    inline, _ = check_reply_markup(p.get("reply_markup"))
    edited = _edited(api, record, {"reply_markup": inline})
    api.state.edit_message(
        chat, record, edited, raw_text=record.raw_text, parse_mode=record.parse_mode
    )
    return edited


async def delete_message(api: SandboxBotApi, p: Params) -> bool:
    chat = target_chat(api, p, writing=False)
    message_id = p.get_int(
        "message_id", required=True, missing="message identifier is not specified"
    )
    record = chat.records.get(message_id)
    if record is None or record.deleted:
        raise BotApiFault.bad_request("message to delete not found")
    if chat.is_group and not record.from_bot:
        # Deleting other people's messages in a group needs admin rights the sandbox bot lacks.
        raise BotApiFault.bad_request("message can't be deleted")
    api.state.delete_message(chat, record)
    return True


async def answer_callback_query(api: SandboxBotApi, p: Params) -> bool:
    query_id = p.get_str("callback_query_id")
    entry = api.state.callback_queries.get(query_id or "")
    if entry is None or entry["answered"]:
        raise BotApiFault.bad_request(QUERY_INVALID)
    text = p.get_str("text")
    if text is not None and len(text) > 200:
        raise BotApiFault.bad_request("MESSAGE_TOO_LONG")
    entry["answered"] = True
    query = entry["query"]
    message = query.get("message") or {}
    api.state.record_answer(
        {
            "callback_query_id": query_id,
            "user_id": query["from"]["id"],
            "chat_id": message.get("chat", {}).get("id"),
            "message_id": message.get("message_id"),
            "data": query.get("data"),
            "text": text,
            "show_alert": p.get_bool("show_alert"),
            "url": p.get_str("url"),
            "cache_time": p.get_int("cache_time"),
        }
    )
    return True


async def send_chat_action(api: SandboxBotApi, p: Params) -> bool:
    target_chat(api, p)
    if not p.get_str("action"):
        raise BotApiFault.bad_request("action is empty")
    return True


def _file_meta(api: SandboxBotApi, p: Params, field: str) -> dict[str, Any]:
    """``file_id``, ``file_unique_id`` and what is known of a sent file; the bytes are dropped."""
    value = p.get(field)
    if isinstance(value, UploadedFile):
        file_id, unique_id = api.state.new_file_ids()
        meta = {"file_id": file_id, "file_unique_id": unique_id}
        if value.filename:
            meta["file_name"] = value.filename
        if value.content_type:
            meta["mime_type"] = value.content_type
        meta["file_size"] = value.size
    elif isinstance(value, str) and value in api.state.files:
        return dict(api.state.files[value])
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        # Telegram would download it; the sandbox has no internet and only records the name.
        file_id, unique_id = api.state.new_file_ids()
        meta = {"file_id": file_id, "file_unique_id": unique_id}
        name = URL(value).name
        if name:
            meta["file_name"] = name
    elif value is None or value == "":
        raise BotApiFault.bad_request(f"there is no {field} in the request")
    else:
        raise BotApiFault.bad_request("wrong file identifier/HTTP URL specified")
    api.state.files[meta["file_id"]] = meta
    return dict(meta)


async def _send_file(api: SandboxBotApi, p: Params, field: str) -> dict[str, Any]:
    chat = target_chat(api, p)
    raw, content = _text_content(p, field="caption")
    if len(content["caption"]) > MAX_CAPTION_LENGTH:
        raise BotApiFault.bad_request("message caption is too long")
    if not content["caption"]:
        del content["caption"]
    inline, keyboard = check_reply_markup(p.get("reply_markup"))
    meta = _file_meta(api, p, field)
    if field == "photo":
        # Telegram returns the sizes it made; the sandbox keeps no pixels, so one size of 0x0.
        size = {"file_id": meta["file_id"], "file_unique_id": meta["file_unique_id"]}
        size.update(width=0, height=0)
        if "file_size" in meta:
            size["file_size"] = meta["file_size"]
        media: Any = [size]
    else:
        media = meta
    return _new_bot_message(
        api, chat, p, {field: media, **content}, raw_text=raw, inline=inline, keyboard=keyboard
    )


async def send_document(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    return await _send_file(api, p, "document")


async def send_photo(api: SandboxBotApi, p: Params) -> dict[str, Any]:
    return await _send_file(api, p, "photo")


METHODS: dict[str, Method] = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action,
    "sendDocument": send_document,
    "sendPhoto": send_photo,
}
