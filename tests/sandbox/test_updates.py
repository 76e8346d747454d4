"""Getting updates: long polling with offsets, conflicts, and webhook delivery over loopback."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import telegram
from aiohttp import web
from telegram.error import BadRequest, Conflict

from bot.sandbox import SandboxBotApi
from bot.sandbox.state import UpdateQueue
from bot.sandbox.webhook import chat_of


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


Answer = Callable[[dict[str, Any]], Awaitable[int]]


async def answer_ok(update: dict[str, Any]) -> int:
    return 200


class Endpoint:
    """A webhook receiver that records every POST, what was in flight when, and per chat order;
    ``answer`` decides each status (and may wait, to keep a POST in flight)."""

    def __init__(self, answer: Answer = answer_ok) -> None:
        self.answer = answer
        self.attempts: list[dict[str, Any]] = []  # every POST, in arrival order
        self.secrets: list[str | None] = []  # the secret token header of each
        self.answered_ok: list[dict[str, Any]] = []
        self.in_flight = 0
        self.peak = 0
        self.chat_in_flight: Counter[int] = Counter()
        self.chat_overlaps: list[int] = []  # chats that had two POSTs in flight at once
        self.changed = asyncio.Condition()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        chat = update["message"]["chat"]["id"]
        await self._note_start(update, chat)
        try:
            status = await self.answer(update)
        finally:
            self.in_flight -= 1
            self.chat_in_flight[chat] -= 1
        if status == 200:
            self.answered_ok.append(update)
        await self._notify()
        return web.Response(status=status)

    async def _note_start(self, update: dict[str, Any], chat: int) -> None:
        self.attempts.append(update)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.chat_in_flight[chat] += 1
        if self.chat_in_flight[chat] > 1:
            self.chat_overlaps.append(chat)
        await self._notify()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(condition), 5)

    async def __aenter__(self) -> Endpoint:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def texts_by_chat(updates: list[dict[str, Any]]) -> dict[int, list[str]]:
    texts: dict[int, list[str]] = defaultdict(list)
    for update in updates:
        texts[update["message"]["chat"]["id"]].append(update["message"]["text"])
    return texts


def webhook_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("sandbox-webhook")]


async def test_webhook_delivery_with_secret_and_retries(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    user = server.user(1001, "Ada")
    await user.send_text("before the webhook")

    async def fail_twice(update: dict[str, Any]) -> int:
        return 500 if len(endpoint.attempts) <= 2 else 200

    async with Endpoint(fail_twice) as endpoint:
        assert await bot.set_webhook(
            endpoint.url, secret_token="s3cr3t-TOKEN", drop_pending_updates=True
        )
        await user.send_text("one")
        await user.send_text("two")
        await endpoint.wait_until(lambda: len(endpoint.answered_ok) == 2)
        texts = [update["message"]["text"] for update in endpoint.answered_ok]
        assert texts == ["one", "two"]  # in order, despite two failed attempts first
        assert len(endpoint.attempts) == 4
        assert set(endpoint.secrets) == {"s3cr3t-TOKEN"}
        info = await bot.get_webhook_info()
        assert info.url == endpoint.url
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


async def test_webhook_posts_concurrently_up_to_max_connections_one_per_chat(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    users = [server.user(2000 + n, f"U{n}") for n in range(20)]
    for user in users:  # a chat's updates back to back: the next ones are its own
        for round_ in range(3):
            await user.send_text(f"r{round_}")
    saturated = asyncio.Event()

    async def answer(update: dict[str, Any]) -> int:
        # Held until five POSTs are in flight together: proof that they run concurrently.
        if endpoint.in_flight >= 5:
            saturated.set()
        await asyncio.wait_for(saturated.wait(), 5)
        return 200

    async with Endpoint(answer) as endpoint:
        assert await bot.set_webhook(endpoint.url, max_connections=5)
        await endpoint.wait_until(lambda: len(endpoint.answered_ok) == 60)
        info = await bot.get_webhook_info()
        assert await bot.delete_webhook()
    assert endpoint.peak == 5
    assert endpoint.chat_overlaps == []
    assert len(endpoint.attempts) == 60  # no retries were needed
    by_chat = texts_by_chat(endpoint.answered_ok)
    assert by_chat == {user.user_id: ["r0", "r1", "r2"] for user in users}
    assert info.pending_update_count == 0 and info.max_connections == 5
    assert len(server.webhook.delivered) == 60
    assert server.state.updates.pending == []


async def test_a_failing_chat_is_retried_in_order_without_holding_others_back(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    ada, bob = server.user(3001, "Ada"), server.user(3002, "Bob")
    failed_attempts = 0

    def bob_done() -> bool:
        return len(texts_by_chat(endpoint.answered_ok)[bob.user_id]) == 3

    async def answer(update: dict[str, Any]) -> int:
        nonlocal failed_attempts
        if update["message"]["text"] != "a1" or failed_attempts == 2:
            return 200
        failed_attempts += 1
        if failed_attempts == 2:
            # Ada's first update is still failing while all of Bob's get through.
            await endpoint.wait_until(bob_done)
        return 500

    async with Endpoint(answer) as endpoint:
        assert await bot.set_webhook(endpoint.url)
        for text, user in [("a1", ada), ("b1", bob), ("a2", ada), ("b2", bob), ("b3", bob)]:
            await user.send_text(text)
        await endpoint.wait_until(lambda: len(endpoint.answered_ok) == 5)
        info = await bot.get_webhook_info()
        assert await bot.delete_webhook()
    assert texts_by_chat(endpoint.attempts)[ada.user_id] == ["a1", "a1", "a1", "a2"]
    delivered = [update["message"]["text"] for update in endpoint.answered_ok]
    assert delivered == ["b1", "b2", "b3", "a1", "a2"]
    assert [update["message"]["text"] for update in server.webhook.delivered] == delivered
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert info.pending_update_count == 0


async def test_delete_webhook_stops_posting_and_leaves_the_rest_to_get_updates(
    server: SandboxBotApi, bot: telegram.Bot
) -> None:
    users = [server.user(4000 + n, f"U{n}") for n in range(8)]
    first_id = server.state.updates.next_update_id
    for user in users:
        await user.send_text("hi")
    release = asyncio.Event()

    async def answer(update: dict[str, Any]) -> int:
        if len(endpoint.attempts) <= 2:
            return 200
        await release.wait()  # stays in flight until the webhook is gone
        return 200

    async with Endpoint(answer) as endpoint:
        try:
            assert await bot.set_webhook(endpoint.url, max_connections=3)
            # All three connections are held, so the two answered first were fully handled.
            await endpoint.wait_until(lambda: endpoint.in_flight == 3)
            assert await bot.delete_webhook()
            assert webhook_tasks() == [] and not server.webhook.delivering
            posted = len(endpoint.attempts)
            await users[0].send_text("after")
            remaining = await bot.get_updates()
            assert len(endpoint.attempts) == posted == 5
        finally:
            release.set()
    delivered = {update["update_id"] for update in server.webhook.delivered}
    assert delivered == {update["update_id"] for update in endpoint.answered_ok[:2]}
    everything = range(first_id, server.state.updates.next_update_id)  # 8 "hi" and "after"
    assert [u.update_id for u in remaining] == [i for i in everything if i not in delivered]
    assert remaining[-1].message.text == "after"


def test_update_queue_handles_a_burst_in_linear_time() -> None:
    queue = UpdateQueue(first_update_id=1)
    checked = 0
    real_is_allowed = queue.is_allowed

    def counting_is_allowed(update: dict[str, Any]) -> bool:
        nonlocal checked
        checked += 1
        return real_is_allowed(update)

    queue.is_allowed = counting_is_allowed  # type: ignore[method-assign]
    started = time.perf_counter()
    for n in range(20_000):
        queue.push("message", {"chat": {"id": n % 40}, "text": str(n)})
    # The webhook's way: take what is new, confirm 40 at a time in completion (not id) order.
    taken = queue.newer_than(0)
    for start in range(0, len(taken), 40):
        for update in reversed(taken[start : start + 40]):
            queue.confirm(update["update_id"])
        assert queue.newer_than(taken[-1]["update_id"]) == []
    assert len(queue) == 0
    # getUpdates' way: 100 at a time, confirmed by the next call's offset.
    for n in range(20_000):
        queue.push("message", {"chat": {"id": 1}, "text": str(n)})
    offset, fetched = 0, 0
    while batch := queue.deliverable(100):
        fetched += len(batch)
        offset = batch[-1]["update_id"] + 1
        queue.confirm_below(offset)
    assert fetched == 20_000 and len(queue) == 0
    assert checked == 40_000  # each update checked against allowed_updates once, not per call
    assert time.perf_counter() - started < 10  # generous; quadratic work took minutes


def test_update_queue_keeps_get_updates_semantics() -> None:
    queue = UpdateQueue(first_update_id=1)
    for n in range(1, 11):
        queue.push("message", {"text": str(n)})

    def ids(updates: list[dict[str, Any]]) -> list[int]:
        return [update["update_id"] for update in updates]

    queue.confirm(3)  # confirmed out of order by a webhook: never handed out again
    queue.confirm(5)
    assert ids(queue.deliverable(3)) == [1, 2, 4]
    queue.confirm_below(5)
    assert ids(queue.deliverable(100)) == [6, 7, 8, 9, 10]
    queue.keep_last(2)
    assert ids(queue.deliverable(100)) == [9, 10]
    assert ids(queue.newer_than(9)) == [10]
    for kind in ("message", "callback_query", "message", "callback_query"):
        queue.push(kind, {})
    queue.allowed_updates = ["callback_query"]
    assert ids(queue.deliverable(1)) == [12]
    assert ids(queue.pending) == [12, 14]  # the other kinds are dropped for good, not skipped
    queue.allowed_updates = []
    queue.push("chat_member", {})  # opt-in only
    assert ids(queue.deliverable(100)) == [12, 14]


def test_updates_without_a_chat_are_queues_of_their_own() -> None:
    in_chat = {"update_id": 1, "edited_message": {"chat": {"id": -5}}}
    inline_press = {"update_id": 2, "callback_query": {"from": {"id": 7}, "data": "x"}}
    pressed = {
        "update_id": 3,
        "callback_query": {"from": {"id": 7}, "message": {"chat": {"id": -5}}},
    }
    assert [chat_of(u) for u in (in_chat, inline_press, pressed)] == [-5, 7, -5]
    assert chat_of({"update_id": 4, "poll": {"id": "p"}}) == ("update", 4)
