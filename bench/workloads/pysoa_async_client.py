"""The benchmark client for soa-core's AsyncClient: ``python pysoa_async_client.py '<client settings literal>'``.

Speaks the driver protocol of ``_wl_common``: ``action`` awaits one call at a time; ``concurrent`` makes
``actions`` calls at once with ``asyncio.gather`` from one task, over the client's one connection.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from _wl_common import make_body, run_driver

from pysoa.client import AsyncClient

SERVICE = "bench"


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    loop = asyncio.new_event_loop()
    client = loop.run_until_complete(_make_client(ast.literal_eval(argv[0])))

    def make_call(command: dict[str, Any]) -> Callable[[], int]:
        body = make_body(int(command["size"]))
        size = len(body["data"])
        kind = command["call"]
        if kind == "action":

            def call() -> int:
                response = loop.run_until_complete(client.call_action(SERVICE, "echo", body))
                if len(response.body["data"]) != size:
                    raise AssertionError(f"wrong echo: {response.body!r:.200}")
                return 1

            return call
        if kind == "concurrent":
            count = int(command["actions"])

            async def gathered() -> list[Any]:
                return await asyncio.gather(*(client.call_action(SERVICE, "echo", body) for _ in range(count)))

            def call_concurrent() -> int:
                responses = loop.run_until_complete(gathered())
                if [len(r.body["data"]) for r in responses] != [size] * count:
                    raise AssertionError("wrong echo among the concurrent calls")
                return count

            return call_concurrent
        raise ValueError(f"unknown call {kind!r}")

    first = loop.run_until_complete(client.call_action(SERVICE, "echo", make_body(100)))
    if first.body != make_body(100):
        raise AssertionError(f"echo changed the body: {first.body!r}")
    import pysoa.version

    try:
        run_driver({"library": "pysoa-async", "version": pysoa.version.__version__}, make_call)
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
    return 0


async def _make_client(settings: dict[str, Any]) -> AsyncClient:
    return AsyncClient({SERVICE: settings})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
