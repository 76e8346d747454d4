"""The loopback Bot API server in a process of its own, so that it does not take CPU from the
sender being measured. Knows ``--users`` private chats from ``--first-chat`` and ``--groups``
groups (ids -1000000000001...), and prints a line for every message that reaches a group:

    READY <base_url>
    ARRIVED <chat_id> <unix time> <text as JSON>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from bot.sandbox import SandboxBotApi

TOKEN = "4242:BENCH-token"
FIRST_GROUP = -1_000_000_000_001


async def serve(users: int, first_chat: int, groups: int, limits: bool) -> None:
    server = SandboxBotApi(token=TOKEN, bot_username="BenchBot", max_recorded_calls=1000)
    server.enforce_limits = limits
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=0)
    parser.add_argument("--first-chat", type=int, default=2_000_000_000)
    parser.add_argument("--groups", type=int, default=0)
    parser.add_argument("--limits", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args.users, args.first_chat, args.groups, args.limits))


if __name__ == "__main__":
    main()
