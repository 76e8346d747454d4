"""A loopback TCP proxy in front of PostgreSQL that delays every byte by ``--delay-ms`` each
way, as a database in another building (or a CockroachDB cluster across regions) would: each
round trip takes twice the delay longer, while throughput is not limited (data keeps flowing
into the delay line; it leaves in order, each chunk when its time has come).

    python -m tests.bench.latency_proxy --target <unix socket path or host:port> --delay-ms 1
    READY <port>
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await line.get()
            if not chunk:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)  # the delay line itself
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while chunk := await reader.read(65536):
            line.put_nowait((loop.time() + delay, chunk))
    except OSError:
        pass
    finally:
        line.put_nowait((loop.time() + delay, b""))
        with contextlib.suppress(OSError):
            await delivering


async def main(target: str, delay_ms: float) -> None:
    delay = delay_ms / 1000

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if target.startswith("/"):
            return await asyncio.open_unix_connection(target)
        host, _, port = target.rpartition(":")
        return await asyncio.open_connection(host, int(port))

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await connect()
        await asyncio.gather(_pipe(client_r, server_w, delay), _pipe(server_r, client_w, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--delay-ms", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.target, args.delay_ms))
