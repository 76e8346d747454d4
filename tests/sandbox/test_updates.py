"""Getting updates: long polling with offsets, conflicts, and webhook delivery over loopback."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import telegram
from aiohttp import web
from telegram.error import BadRequest, Conflict

from bot.sandbox import SandboxBotApi


async def test_long_poll_returns_when_a_user_writes(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada", "de")
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    # The poll is waiting inside the server before the user writes.
    await server.state.updates.signal.wait_for(lambda: server.stats["getUpdates"] == 1, 5)
    assert not poll.done()
    started = time.monotonic()
    await user.send_text("hello")
    (update,) = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - started < 2  # answered at once, not after the 20 s timeout
    assert update.message.text == "hello"
    assert update.message.from_user.language_code == "de"
    assert update.message.entities == ()
    assert update.api_kwargs == {} and update.message.api_kwargs == {}


async def test_offset_confirms_and_limit_caps(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    for n in range(5):
        await user.send_text(f"m{n}")
    first_two = await bot.get_updates(limit=2)
    assert [u.message.text for u in first_two] == ["m0", "m1"]
    assert first_two[1].update_id == first_two[0].update_id + 1
    again = await bot.get_updates()  # nothing confirmed yet: all five are still there
    assert len(again) == 5
    rest = await bot.get_updates(offset=first_two[-1].update_id + 1)
    assert [u.message.text for u in rest] == ["m2", "m3", "m4"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1, timeout=0) == ()
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_negative_offset_keeps_only_the_last(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    for n in range(4):
        await user.send_text(f"m{n}")
    (last,) = await bot.get_updates(offset=-1)
    assert last.message.text == "m3"
    assert len(await bot.get_updates()) == 1


async def test_commands_get_a_bot_command_entity(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    await user.send_command("start", "ABC")
    await user.send_text("/help@SymptomDiarySandboxBot now")
    start, help_ = await bot.get_updates()
    assert start.message.text == "/start ABC"
    assert [(e.type, e.offset, e.length) for e in start.message.entities] == [("bot_command", 0, 6)]
    assert help_.message.entities[0].length == len("/help@SymptomDiarySandboxBot")


async def test_allowed_updates_filters(server: SandboxBotApi, bot: telegram.Bot) -> None:
    user = server.user(1001, "Ada")
    sent = await bot.send_message(
        1001,
        "hi",
        reply_markup=telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("b", callback_data="b")]]
        ),
    )
    await user.send_text("text")
    await user.press(sent.to_dict(), "b")
    (update,) = await bot.get_updates(allowed_updates=["callback_query"])
    assert update.callback_query.data == "b"
    await user.send_text("still filtered")
    assert await bot.get_updates(offset=update.update_id + 1) == ()


async def test_second_poll_ends_the_first_with_409(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=20))
    await server.state.updates.signal.wait_for(lambda: server.stats["getUpdates"] == 1, 5)
    # PTB gives getUpdates its own pool of one connection, so a second poller is a second Bot,
    # which is also the real-life mistake (two instances of the bot running).
    async with telegram.Bot(server.token, base_url=server.base_url) as second_instance:
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 5)


async def test_stop_answers_waiting_polls(clock) -> None:
    server = SandboxBotApi(clock=clock)
    await server.start()
    async with telegram.Bot(server.token, base_url=server.base_url) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await server.state.updates.signal.wait_for(lambda: server.stats["getUpdates"] == 1, 5)
        started = time.monotonic()
        await server.stop()
        assert await asyncio.wait_for(poll, 5) == ()
        assert time.monotonic() - started < 5


class Receiver:
    """A tiny aiohttp app standing in for the bot's webhook endpoint."""

    def __init__(self, failures: int = 0) -> None:
        self.received: list[tuple[dict, str | None]] = []
        self.failures = failures
        self.got = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures:
            self.failures -= 1
            return web.Response(status=500)
        self.received.append(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        self.got.set()
        return web.Response(text="ok")

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def wait_for(self, count: int) -> None:
        while len(self.received) < count:
            self.got.clear()
            await asyncio.wait_for(self.got.wait(), 5)


async def test_webhook_delivery_with_secret_and_retries(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    await user.send_text("before the webhook")
    async with Receiver(failures=2) as receiver:
        assert await bot.set_webhook(
            receiver.url, secret_token="s3cr3t-TOKEN", drop_pending_updates=True
        )
        await user.send_text("one")
        await user.send_text("two")
        await receiver.wait_for(2)
        texts = [update["message"]["text"] for update, _ in receiver.received]
        assert texts == ["one", "two"]  # in order, despite two failed attempts first
        assert {secret for _, secret in receiver.received} == {"s3cr3t-TOKEN"}
        info = await bot.get_webhook_info()
        assert info.url == receiver.url
        assert info.pending_update_count == 0
        assert (
            info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        )
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    assert server.webhook.delivered[0]["message"]["text"] == "one"


async def test_webhook_only_to_loopback(server: SandboxBotApi, bot: telegram.Bot) -> None:
    with pytest.raises(BadRequest, match="Bad webhook"):
        await bot.set_webhook("https://example.org/hook")
    with pytest.raises(BadRequest, match="Bad webhook"):
        await bot.set_webhook("https://10.0.0.1/hook")
    async with aiohttp.ClientSession() as session:
        url = f"{server.base_url}{server.token}/setWebhook"
        async with session.post(url, json={"url": "http://localhost:1/x"}) as response:
            body = await response.json()
        assert body == {"ok": True, "result": True, "description": "Webhook was set"}
        async with session.post(f"{server.base_url}{server.token}/deleteWebhook") as response:
            body = await response.json()
        assert body == {"ok": True, "result": True, "description": "Webhook was deleted"}
