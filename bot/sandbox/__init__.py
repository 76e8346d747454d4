"""A loopback Telegram Bot API server for tests and for sandbox mode.

Tests run the real python-telegram-bot against it over HTTP and play the users; without a
Telegram token the service starts it in-process so people can chat with the bot through the
page at :attr:`SandboxBotApi.web_url`.

    async with SandboxBotApi() as server:
        app = ApplicationBuilder().token(server.token).base_url(server.base_url).build()
        user = server.user(1001, "Ada", "de")
        await user.send_command("start")
        reply = await user.wait_for_message()
"""

from bot.sandbox.faults import BotApiFault, SandboxError
from bot.sandbox.limits import RateLimits, Window
from bot.sandbox.server import SandboxBotApi
from bot.sandbox.state import MessageRecord
from bot.sandbox.users import ChatHandle, SandboxGroup, SandboxUser

__all__ = [
    "BotApiFault",
    "ChatHandle",
    "MessageRecord",
    "RateLimits",
    "SandboxBotApi",
    "SandboxError",
    "SandboxGroup",
    "SandboxUser",
    "Window",
]
