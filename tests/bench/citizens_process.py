"""The loopback Bot API server playing a town of citizens at the morning peak (benchmark 8),
in a process of its own so that it does not take CPU from the service being measured.

Each of ``--users`` people (chats ``--first-chat`` on) holds an activation code (``--codes``,
lines of ``<chat id> <code>``). Commands on standard input, answers on standard output:

    READY <base_url>
    ACTIVATE            every person sends ``/start <code>`` at once
    ACTIVATED <json>    once every person got the welcome (or gave up waiting)
    ANSWER <rate>       every person answers the next prompt as soon as it arrives: 80% with
                        one tap, 20% the whole questionnaire (symptoms, a typed temperature, a
                        trend, no note). ``<rate>`` > 0 spaces all presses and typed answers
                        evenly at that many per second (the whole town's), 0 does not
    ANSWERED <json>     once every person is done (or gave up waiting)
    FLOOD               as ANSWER 0, but everyone waits until every prompt has arrived and
                        then all press at once: the offered load is the whole town's at once

A press is acknowledged when the bot answers its callback query (``answerCallbackQuery``);
the latency is measured from the moment the press is queued for the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiolimiter import AsyncLimiter

from bot.sandbox import SandboxBotApi, SandboxUser
from tests.bench.sandbox_process import TOKEN

WAIT = 600.0  # seconds a person waits for the bot before giving up (counted as lost)
ONE_TAP_SHARE = 0.8


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(latencies: list[float]) -> dict:
    return {
        "count": len(latencies),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p99_s": percentile(latencies, 0.99),
        "max_s": max(latencies) if latencies else None,
    }


def actions(message: dict[str, Any]) -> dict[str, str]:
    """The questionnaire buttons under a message: action (with its argument) -> data."""
    found = {}
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data") or ""
            parts = data.split(":")
            if len(parts) >= 3 and parts[0] == "q":
                found[":".join(parts[2:])] = data
    return found


def offers(action: str):
    return lambda message: any(key.split(":")[0] == action for key in actions(message))


class Town:
    def __init__(self, server: SandboxBotApi, codes: dict[int, str], seed: int):
        self.server = server
        self.codes = codes
        self.people = {chat: server.user(chat, "Bürger", "de") for chat in codes}
        self.seed = seed
        self.pressed: dict[str, float] = {}  # callback query id -> when pressed
        self.acked: dict[str, float] = {}
        self.waiting: dict[str, asyncio.Future] = {}
        self.limiter: AsyncLimiter | None = None
        self.prompted = 0
        self.everyone_prompted: asyncio.Event | None = None
        self.typed = 0
        self.problems: Counter[str] = Counter()
        record = server.state.record_answer

        def recording(answer: dict[str, Any]) -> None:
            record(answer)
            query_id = answer["callback_query_id"]
            self.acked[query_id] = time.monotonic()
            future = self.waiting.pop(query_id, None)
            if future is not None and not future.done():
                future.set_result(None)

        server.state.record_answer = recording

    async def _turn(self) -> None:
        if self.limiter is not None:
            await self.limiter.acquire()

    async def press(self, person: SandboxUser, message: dict, action: str) -> None:
        await self._turn()
        future = asyncio.get_running_loop().create_future()
        query = await person.press(message, actions(message)[action])
        self.pressed[query["id"]] = time.monotonic()
        if query["id"] in self.acked:
            return
        self.waiting[query["id"]] = future
        await asyncio.wait_for(future, WAIT)

    async def activate(self) -> dict:
        started = time.monotonic()
        latencies: list[float] = []

        async def one(chat: int, person: SandboxUser) -> None:
            sent = time.monotonic()
            await person.send_command("start", self.codes[chat])
            try:
                await person.wait_for_message(timeout=WAIT)
                latencies.append(time.monotonic() - sent)
            except TimeoutError:
                self.problems["no welcome"] += 1

        await asyncio.gather(*(one(chat, person) for chat, person in self.people.items()))
        return {
            "people": len(self.people),
            "welcomed": len(latencies),
            "seconds": time.monotonic() - started,
            "latency": summary(latencies),
            "problems": dict(self.problems),
        }

    async def answer(self, rate: float, flood: bool = False) -> dict:
        self.limiter = AsyncLimiter(1, 1 / rate) if rate > 0 else None
        self.prompted = 0
        self.everyone_prompted = asyncio.Event() if flood else None
        self.pressed.clear()
        self.acked.clear()
        self.problems.clear()
        self.typed = 0
        first_id = self.server.state.updates.next_update_id
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(self._answer(chat, person) for chat, person in self.people.items())
        )
        done = [when for when in outcomes if when is not None]
        latencies = [self.acked[q] - t for q, t in self.pressed.items() if q in self.acked]
        first_press = min(self.pressed.values(), default=started)
        return {
            "people": len(self.people),
            "answered": len(done),
            "presses": len(self.pressed),
            "acknowledged": len(latencies),
            "typed": self.typed,
            "updates_pushed": self.server.state.updates.next_update_id - first_id,
            "first_press_s": first_press - started,
            "last_done_s": (max(done) - started) if done else None,
            "busy_s": (max(done) - first_press) if done else None,
            "ack": summary(latencies),
            "problems": dict(self.problems),
        }

    async def _answer(self, chat: int, person: SandboxUser) -> float | None:
        chooser = random.Random(self.seed * 1_000_003 + chat)
        one_tap = chooser.random() < ONE_TAP_SHARE
        try:
            prompt = await person.wait_for_message(offers("well"), timeout=WAIT)
        except TimeoutError:
            self.problems["no prompt"] += 1
            return None
        if self.everyone_prompted is not None:
            self.prompted += 1
            if self.prompted == len(self.people):
                self.everyone_prompted.set()
            await self.everyone_prompted.wait()
        try:
            if one_tap:
                await self.press(person, prompt, "well")
            else:
                await self._whole_questionnaire(person, prompt, chooser)
        except TimeoutError as error:
            self.problems[f"stuck: {str(error)[:40]}"] += 1
            return None
        return time.monotonic()

    async def _whole_questionnaire(
        self, person: SandboxUser, prompt: dict, chooser: random.Random
    ) -> None:
        await self.press(person, prompt, "unwell")
        step = await person.wait_for_message(offers("tog"), timeout=WAIT)
        symptoms = sorted(key for key in actions(step) if key.startswith("tog:"))
        for symptom in chooser.sample(symptoms, k=min(2, len(symptoms))):
            await self.press(person, step, symptom)
            step = await person.wait_for_message(timeout=WAIT)
        await self.press(person, step, "done")
        await person.wait_for_message(offers("nomeas"), timeout=WAIT)
        await self._turn()
        await person.send_text(f"{chooser.randint(361, 395) / 10:.1f}")
        self.typed += 1
        step = await person.wait_for_message(offers("trend"), timeout=WAIT)
        await self.press(person, step, f"trend:{chooser.choice(['better', 'same', 'worse'])}")
        step = await person.wait_for_message(offers("skip"), timeout=WAIT)
        await self.press(person, step, "skip")
        step = await person.wait_for_message(offers("send"), timeout=WAIT)
        await self.press(person, step, "send")


def read_codes(path: Path) -> dict[int, str]:
    codes = {}
    for line in path.read_text().splitlines():
        chat, code = line.split()
        codes[int(chat)] = code
    return codes


async def serve(codes: dict[int, str], seed: int) -> None:
    server = SandboxBotApi(token=TOKEN, bot_username="PeakBot", max_recorded_calls=1000)
    server.enforce_limits = False  # paid broadcasts: the service paces itself at 1,000/s
    town = Town(server, codes, seed)
    await server.start(port=0)
    print(f"READY {server.base_url}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        command, _, argument = line.partition(" ")
        if command == "ACTIVATE":
            print(f"ACTIVATED {json.dumps(await town.activate())}", flush=True)
        elif command == "ANSWER":
            print(f"ANSWERED {json.dumps(await town.answer(float(argument)))}", flush=True)
        elif command == "FLOOD":
            print(f"ANSWERED {json.dumps(await town.answer(0, flood=True))}", flush=True)
        elif command == "STOP":
            break
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    asyncio.run(serve(read_codes(args.codes), args.seed))


if __name__ == "__main__":
    main()
