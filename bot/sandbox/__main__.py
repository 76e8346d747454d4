"""Run only the sandbox Bot API server, for pointing a separately started bot at it.

python -m bot.sandbox --port 8081
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot.sandbox.server import SandboxBotApi


async def _serve(host: str, port: int, token: str, username: str) -> None:
    server = SandboxBotApi(token=token, bot_username=username)
    await server.start(host=host, port=port)
    try:
        print(f"Bot API base_url: {server.base_url}  (token {server.token})")
        print(f"Chat page:        {server.web_url}")
        await asyncio.Event().wait()  # until Ctrl-C
    finally:
        await server.stop()


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123456:TEST-TOKEN")
    parser.add_argument("--username", default="SymptomDiarySandboxBot")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.token, args.username))


if __name__ == "__main__":
    main()
