"""The loopback Bot API server in a process of its own, so that it does not take CPU from the
sender being measured. Knows ``--users`` private chats from ``--first-chat`` and ``--groups``
groups (ids -1000000000001...), and prints a line for every message that reaches a group,
and when its standard input closes, what its flood limits let through:

    READY <base_url>
    ARRIVED <chat_id> <unix time> <text as JSON>
    STATS {"accepted": <sends let through>, "first": <monotonic time>, "last": ...,
           "refused": <429s>}

With ``--limits`` it answers 429 exactly when Telegram's documented limits are crossed: more
than one message a second to a person, 20 a minute to a group, 30 a second overall (paid
broadcasts exempt from the last).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from bot.sandbox import SandboxBotApi
from bot.sandbox.limits import RateLimits, Window

TOKEN = "4242:BENCH-token"
FIRST_GROUP = -1_000_000_000_001
DOCUMENTED_LIMITS = RateLimits(
    private_chat=(Window(1, 1.0),), group_chat=(Window(20, 60.0),), overall=(Window(30, 1.0),)
)


def count_limits(server: SandboxBotApi) -> dict:
    """Wrap the server's limiter: record when a send was let through, count the refusals."""
    stats: dict = {"accepted": [], "refused": 0}
    acquire = server.limiter.acquire

    def counting(chat_id: int, *, is_group: bool, paid_broadcast: bool = False) -> int | None:
        retry_after = acquire(chat_id, is_group=is_group, paid_broadcast=paid_broadcast)
        if retry_after is None:
            stats["accepted"].append(time.monotonic())
        else:
            stats["refused"] += 1
        return retry_after

    server.limiter.acquire = counting
    return stats


def know_users_lazily(server: SandboxBotApi, first_chat: int, users: int) -> None:
    """Make each of the ``users`` people on first contact: a million made up front would take
    the stub minutes and gigabytes."""
    state = server.state
    known = state.chat

    def chat(chat_id: int):
        found = known(chat_id)
        if found is None and first_chat <= chat_id < first_chat + users:
            server.user(chat_id, "Bench")
            found = known(chat_id)
        return found

    state.chat = chat


async def serve(users: int, first_chat: int, groups: int, limits: bool, lazy: bool) -> None:
    server = SandboxBotApi(
        token=TOKEN, bot_username="BenchBot", max_recorded_calls=1000, limits=DOCUMENTED_LIMITS
    )
    server.enforce_limits = limits
    stats = count_limits(server)
    if lazy:
        know_users_lazily(server, first_chat, users)
    else:
        for chat_id in range(first_chat, first_chat + users):
            server.user(chat_id, "Bench")
    staff = server.user(999, "Staff")
    watched = []
    for number in range(groups):
        group = server.group(FIRST_GROUP - number, title=f"Authority {number}")
        await server.add_bot_to_group(group, by=staff)
        watched.append(group)
    await server.start(port=0)
    print(f"READY {server.base_url}", flush=True)

    async def watch(group) -> None:
        while True:
            message = await group.wait_for_message(timeout=3600)
            text = json.dumps(message["text"])  # one line
            print(f"ARRIVED {group.chat_id} {time.time():.6f} {text}", flush=True)

    tasks = [asyncio.create_task(watch(group)) for group in watched]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for task in tasks:
        task.cancel()
    await server.stop()
    accepted = stats["accepted"]
    summary = {
        "accepted": len(accepted),
        "first": accepted[0] if accepted else None,
        "last": accepted[-1] if accepted else None,
        "refused": stats["refused"],
    }
    print(f"STATS {json.dumps(summary)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--first-chat", type=int, default=2_000_000_000)
    parser.add_argument("--groups", type=int, default=0)
    parser.add_argument("--limits", action="store_true")
    parser.add_argument("--lazy-users", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args.users, args.first_chat, args.groups, args.limits, args.lazy_users))


if __name__ == "__main__":
    main()
