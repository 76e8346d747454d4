"""Fuzzing the chat: a few thousand random texts, commands, unicode (right-to-left scripts,
emoji, zero-width and control characters), very long messages, random button data, real prompt
buttons with altered data (a character changed, something appended, cut short, another
person's prompt id), from activated and unknown chats, and at the end every open menu tapped
twice, through the real PTB and the loopback Bot API server.

Every input must be answered (a message, or the answer to a button press), no exception may
escape, and nothing may be stored that the person did not send: no diary entry, and no
questionnaire moved on from its first step.
The generator is seeded, so a failure can be replayed.
"""

from __future__ import annotations

import logging
import random
import string
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from backend.config.settings import Settings
from backend.domain.clock import FixedClock
from backend.server import RUNNING, create_app
from backend.services.context import ServiceContext
from backend.services.staff import create_staff
from bot.sandbox import SandboxBotApi
from tests.conftest import BOT_TOKEN
from tests.rounds import new_round
from tests.test_end_to_end import has_button

SEED = 20261126
CHATS = 50  # activated, and as many unknown
INPUTS_PER_CHAT = 30  # 3,000 inputs in all

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz ",
    "äöüßÄÖÜéèçñ ",
    "مرحبا كيف حالك اليوم ",  # Arabic, right to left
    "שלום מה שלומך ",  # Hebrew
    "Привіт як справи ",
    "😀🤒🤧😷👍🏽👨‍👩‍👧🏳️‍🌈",
    "\u200b\u200c\u200d\u200e\u200f\u2066\u2067\u2069\ufeff",  # zero-width and direction marks
    "0123456789.,°CF ",
    "\u0301\u0308\u20dd",  # combining marks
    "\t\r\x01\x7f",
    "\x00\x07\x1b\x85",  # NUL (PostgreSQL refuses it in text and JSON), bell, escape, NEL
]
COMMANDS = [
    "/start",
    "/help",
    "/status",
    "/language",
    "/privacy",
    "/stop",
    "/resume",
    "/start@DiaryTestBot",
    "/STATUS",
    "/unknown",
    "/start " + "A" * 22,
    "/start ../../x",
]


def random_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.05:
        return rng.choice("abc😀مر") * 4096  # as long as Telegram allows
    if kind < 0.25:
        command = rng.choice(COMMANDS)
        return command + ("" if rng.random() < 0.5 else " " + rng.choice(["x", "😀", "38.5"]))
    if kind < 0.35:
        return rng.choice(["38.5", "38,5 °C", "101 F", "999", "-3", "37", "nan", "1e9"])
    length = rng.randint(1, 80)
    alphabet = "".join(rng.sample(ALPHABETS, rng.randint(1, 4)))
    text = "".join(rng.choice(alphabet) for _ in range(length))
    return text if text.strip() else text + "x"


def random_data(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return (
            "q:"
            + "".join(rng.choice("AZaz09_-") for _ in range(22))
            + ":"
            + rng.choice(["well", "unwell", "tog", "done", "send", "correct", "trend", "x"])
        )
    if kind < 0.45:
        return rng.choice(["l:de", "l:xx", "l:", "s:y", "s:n", "s:maybe", "q::", ":::"])
    length = rng.randint(1, 64)
    return (
        "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(length))
        .encode()[:64]
        .decode("utf-8", "ignore")
        or "x"
    )


BASE64 = string.ascii_letters + string.digits + "-_"


def prompt_buttons(messages: list[dict]) -> tuple[dict, list[str]] | None:
    """The newest message with questionnaire buttons, and their data."""
    for message in reversed(messages):
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        data = [b["callback_data"] for row in keyboard for b in row if "callback_data" in b]
        if any(d.startswith("q:") for d in data):
            return message, [d for d in data if d.startswith("q:")]
    return None


def remember_menus(messages: list[dict], seen: dict[int, tuple[dict, list[str]]]) -> None:
    """Every menu (/language, /stop) with its buttons as first sent: a client that missed
    the edit taking them off still shows them, and its tap must act never, or once."""
    for message in messages:
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        data = [b["callback_data"] for row in keyboard for b in row if "callback_data" in b]
        if data and not any(d.startswith("q:") for d in data):
            seen.setdefault(message["message_id"], (message, data))


def altered(rng: random.Random, data: str, foreign: str) -> str:
    """A real button's data, changed so that it is no button we ever sent."""
    while True:
        how = rng.randrange(4)
        if how == 0:  # one character changed (in the prompt id, the action or its argument)
            at = rng.randrange(len(data))
            changed = data[:at] + rng.choice(BASE64 + ":") + data[at + 1 :]
        elif how == 1:
            changed = data + rng.choice([":x", "x", ":cough", ":well", "=", " ", ":", "é"])
        elif how == 2:
            changed = data[: rng.randrange(1, len(data))]
        else:  # the same button of another person's prompt
            parts = data.split(":")
            changed = ":".join([parts[0], foreign.split(":")[1], *parts[2:]])
        if changed != data and len(changed.encode()) <= 64:
            return changed


@pytest.fixture
async def fast_service(
    database_url: str, bot_api: SandboxBotApi, clock: FixedClock
) -> AsyncIterator[TestClient]:
    """The service in paid-broadcast mode (1000 messages/s), so thousands of replies go fast."""
    settings = Settings.from_env(
        {
            "DIARY_DATABASE_URL": database_url,
            "DIARY_TELEGRAM_TOKEN": BOT_TOKEN,
            "DIARY_TELEGRAM_API_URL": bot_api.base_url,
            "DIARY_PAID_BROADCAST": "true",
        }
    )
    async with TestClient(TestServer(create_app(settings, clock=clock, schedule=False))) as client:
        yield client


async def test_random_input_never_breaks_anything(
    fast_service: TestClient,
    bot_api: SandboxBotApi,
    ctx: ServiceContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    rng = random.Random(SEED)
    headers = {"Authorization": f"Bearer {(await create_staff(ctx, 'F', 'admin', [])).token}"}
    citizens = []
    for number in range(CHATS):
        response = await fast_service.post(
            "/api/v1/cases",
            json={
                "region": "de-koeln",
                "kind": "contact",
                "quarantine_start": "2026-11-24",
                "quarantine_end": "2026-12-07",
                "language": rng.choice(["de", "en", "tr", "pl"]),
            },
            headers=headers,
        )
        code = (await response.json())["deep_link"].rsplit("=", 1)[1]
        citizen = bot_api.user(8_800_000 + number, "F", rng.choice(["de", "ar", None]))
        await citizen.send_command("start", code)
        citizens.append(citizen)
    for citizen in citizens:
        await citizen.wait_for_message()
    await new_round(fast_service, "de-koeln")
    for citizen in citizens:
        await citizen.wait_for_message(has_button("well"))
    entries_before = await ctx.db.fetch("SELECT count(*) AS n FROM diary_entries")

    strangers = [
        bot_api.user(8_900_000 + n, "S", rng.choice(["en", "uk", "xx", None])) for n in range(CHATS)
    ]
    expected_messages = {user.user_id: len(user.messages) for user in citizens + strangers}
    presses = 0
    for _ in range(INPUTS_PER_CHAT):
        for user in citizens + strangers:
            target = user.last_message
            shown = prompt_buttons(user.messages) if user in citizens else None
            if shown is not None and rng.random() < 0.15:
                message, data = shown
                other = prompt_buttons(rng.choice([c for c in citizens if c is not user]).messages)
                foreign = other[1][0] if other else rng.choice(data)
                await user.press(message, altered(rng, rng.choice(data), foreign))
                presses += 1
            elif target is not None and rng.random() < 0.3:
                await user.press(target, random_data(rng))
                presses += 1
            else:
                await user.send_text(random_text(rng))
                expected_messages[user.user_id] += 1  # each text gets at least one message

    answered = lambda: len(bot_api.state.callback_answers) >= presses  # noqa: E731
    await bot_api.state.changed.wait_for(answered, 120)
    for user in citizens + strangers:
        await bot_api.state.changed.wait_for(
            lambda user=user: len(user.messages) >= expected_messages[user.user_id], 120
        )
    await fast_service.app[RUNNING].sender.drained()

    # Stale menus: every menu still open is tapped twice (the second tap must act never),
    # as by a client that missed the edit taking the buttons off.
    menus: dict[int, dict[int, tuple[dict, list[str]]]] = {}
    for user in citizens:
        remember_menus(user.messages, menus.setdefault(user.user_id, {}))
        for message, data in menus[user.user_id].values():
            choice = rng.choice(data)
            await user.press(message, choice)
            await user.press(message, choice)
            presses += 2
    assert sum(len(found) for found in menus.values()) >= 10  # the seed reaches menus
    await bot_api.state.changed.wait_for(answered, 120)
    await fast_service.app[RUNNING].sender.drained()
    assert bot_api.internal_errors == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    entries_after = await ctx.db.fetch("SELECT count(*) AS n FROM diary_entries")
    assert entries_after[0]["n"] == entries_before[0]["n"]  # nobody sent an answer
    moved = await ctx.db.fetch("SELECT count(*) AS n FROM prompts WHERE step <> 'ask'")
    assert moved[0]["n"] == 0  # nor pressed a button of theirs as it was sent
