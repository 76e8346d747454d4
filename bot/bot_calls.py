"""The sender's Bot API calls, without PTB's object model on the way back.

``bot.send_message`` builds a ``telegram.Message`` from every answer: some hundred attributes
set one by one through PTB's frozen-object guard, about a quarter of the sender's CPU per
message (README, performance). The sender needs one number from the answer, the message id.

So the sender calls ``Bot._post``, the one method under every PTB Bot API method: it inserts
PTB's defaults, drops ``None`` values, encodes the parameters (keyboards as JSON), sends them
through the bot's request object and turns Telegram's errors into PTB's exceptions
(RetryAfter, Forbidden, ChatMigrated, BadRequest, ...). What is skipped is only the last step,
``Message.de_json``. ``_post`` is not public API, hence PTB pinned to one version and
tests/test_bot_calls.py, which checks that these calls put exactly the same parameters on the
wire as ``send_message`` and friends, and raise the same errors.
"""

from __future__ import annotations

from typing import Any

from telegram import Bot

from bot.render import UnknownMessage

# The Bot API methods the sender makes (bot/render.py decides which).
METHODS = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "answerCallbackQuery"}
)


async def call(bot: Bot, method: str, params: dict[str, Any]) -> Any:
    """Make one Bot API call; return Telegram's ``result`` as decoded JSON (a dict for a
    message, ``True`` for most other answers). Raises PTB's exceptions for Telegram's errors."""
    if method not in METHODS:
        raise UnknownMessage(f"no sender for Bot API method {method}")
    # _post changes the dict it is given (defaults inserted in place), hence the copy.
    return await bot._post(method, dict(params))


def message_id(result: Any) -> int | None:
    """The id of the message an answer describes (sendMessage, an edit), else None."""
    if isinstance(result, dict):
        value = result.get("message_id")
        return value if isinstance(value, int) else None
    return None
