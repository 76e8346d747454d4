"""Benchmark 3: pacing at 30/s, ours beside python-telegram-bot's AIORateLimiter, same run.

1,800 messages, one to each of 1,800 people, through the loopback Bot API server in its own
process answering 429 exactly when Telegram's documented limits are crossed (one message a
second to a person, 30 a second overall; tests/bench/sandbox_process.py). A fresh server for
each contestant, so that neither inherits the other's windows:

- ours: the outbox sender at ``rate=30`` draining the messages from the outbox;
- PTB's: the same texts to the same people through ``AIORateLimiter`` as PTB recommends it
  (``ApplicationBuilder().rate_limiter(AIORateLimiter(...))``, its defaults of 30/s overall,
  with retries so that every message arrives), all sends issued at once and left to it.

Each is reported as its end-to-end rate (messages over the time from the start to the last
answer), its rate at the server (messages let through over the time from the first to the
last) and the 429s the server answered. Aim: ours within 1% of 30/s both ways, no 429, and
better than PTB's on rate and 429s.
"""

from __future__ import annotations

import asyncio
import time

from telegram import Message
from telegram.ext import AIORateLimiter, ApplicationBuilder

from backend.domain.clock import SystemClock
from backend.i18n import catalogs
from backend.storage.outbox import OutboxRow
from bot.render import Renderer
from tests.bench.bench_sender import FIRST_CHAT, bot_for, drain, fill, new_sender, sandbox
from tests.bench.common import drop_database, fresh_database
from tests.bench.sandbox_process import TOKEN

RATE = 30
MESSAGES = 1_800
PTB_RETRIES = 20  # enough for every message to arrive in the end


def _text() -> str:
    """The text ``fill`` puts in the outbox, as the sender renders it."""
    row = OutboxRow("de-koeln", None, "broadcast", FIRST_CHAT, "en", {"text": "Bench notice"}, 0)
    return Renderer(catalogs(), SystemClock()).render(row).params["text"]


def _figures(sent: int, elapsed: float, stats: dict) -> dict:
    span = (stats["last"] - stats["first"]) if stats.get("accepted", 0) > 1 else float("nan")
    at_server = (stats["accepted"] - 1) / span
    return {
        "messages": sent,
        "seconds": elapsed,
        "per_second": sent / elapsed,
        "deviation": sent / elapsed / RATE - 1,
        "at_server_per_second": at_server,
        "at_server_deviation": at_server / RATE - 1,
        "429s": stats["refused"],
    }


async def ours(count: int = MESSAGES) -> dict:
    db = await fresh_database()
    try:
        await fill(db, count)
        async with sandbox(users=count, limits=True) as box, bot_for(box) as bot:
            sender = new_sender(db, bot, rate=RATE)
            elapsed = await drain(sender)
        sent = (await db.fetch("SELECT count(sent_at) AS n FROM outbox"))[0]["n"]
        return _figures(sent, elapsed, box.stats)
    finally:
        await drop_database(db)


async def ptbs(count: int = MESSAGES) -> dict:
    text = _text()
    async with sandbox(users=count, limits=True) as box:
        application = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(box.base_url)
            .rate_limiter(AIORateLimiter(max_retries=PTB_RETRIES))
            .updater(None)
            .build()
        )
        async with application:
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(
                    application.bot.send_message(chat_id=FIRST_CHAT + n, text=text)
                    for n in range(count)
                ),
                return_exceptions=True,
            )
            elapsed = time.perf_counter() - started
    sent = sum(1 for answer in answers if isinstance(answer, Message))
    return _figures(sent, elapsed, box.stats)


async def pacing(count: int = MESSAGES) -> dict:
    mine, theirs = await ours(count), await ptbs(count)
    within = abs(mine["deviation"]) <= 0.01 and abs(mine["at_server_deviation"]) <= 0.01
    better = mine["per_second"] > theirs["per_second"] and mine["429s"] < max(1, theirs["429s"])
    return {
        **mine,
        "ptb": theirs,
        "met": mine["messages"] == count and within and mine["429s"] == 0 and better,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(pacing()), indent=2))
