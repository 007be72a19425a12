"""FastStream's Redis request/reply (asyncio), in its own venv:

    python faststream_peer.py server PORT   # a FastStream app answering echo requests from a Redis list
    python faststream_peer.py client PORT   # a driver (see _wl_common): broker.request(...) per call

Requests go to one Redis list that every server reads (so servers share the work); FastStream sends each reply on a
reply channel of the requesting broker. ``concurrent`` calls gather ``actions`` requests from one task.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from _wl_common import make_body, run_driver
from faststream import FastStream
from faststream.redis import RedisBroker

REQUEST_LIST = "bench:faststream:echo"


def serve(port: int) -> None:
    # FastStream logs every message at INFO on stdout: that costs CPU the soa-core servers (logging at
    # WARNING) do not spend, and fills the stdout pipe the bench stops reading after READY, which stalls
    # the server. Its per-message lines go to DEBUG, below its logger's level; start-up and errors stay.
    broker = RedisBroker(f"redis://127.0.0.1:{port}/0", log_level=logging.DEBUG)

    @broker.subscriber(list=REQUEST_LIST)
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        return body

    app = FastStream(broker)

    @app.after_startup
    async def ready() -> None:
        print("READY", flush=True)

    asyncio.run(app.run())


def client(port: int) -> None:
    loop = asyncio.new_event_loop()
    # Each request in flight holds a connection while it waits for its reply: room for 100 at once.
    broker = RedisBroker(f"redis://127.0.0.1:{port}/0", max_connections=256)
    loop.run_until_complete(broker.start())

    async def request(body: dict[str, Any]) -> Any:
        reply = await broker.request(body, list=REQUEST_LIST, timeout=30)
        return await reply.decode()

    def make_call(command: dict[str, Any]) -> Callable[[], int]:
        body = make_body(int(command["size"]))
        size = len(body["data"])
        if command["call"] == "action":

            def call() -> int:
                if len(loop.run_until_complete(request(body))["data"]) != size:
                    raise AssertionError("wrong echo")
                return 1

            return call
        if command["call"] == "concurrent":
            count = int(command["actions"])

            async def gathered() -> list[Any]:
                return await asyncio.gather(*(request(body) for _ in range(count)))

            def call_concurrent() -> int:
                if [len(r["data"]) for r in loop.run_until_complete(gathered())] != [size] * count:
                    raise AssertionError("wrong echo among the concurrent calls")
                return count

            return call_concurrent
        raise ValueError(f"unknown call {command['call']!r}")

    if loop.run_until_complete(request(make_body(100))) != make_body(100):
        raise AssertionError("echo changed the body")
    from importlib.metadata import version

    try:
        run_driver({"library": "faststream", "version": version("faststream")}, make_call)
    finally:
        loop.run_until_complete(broker.stop())
        loop.close()


def main(argv: list[str]) -> int:
    role, port = argv[0], int(argv[1])
    if role == "server":
        serve(port)
    else:
        client(port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
