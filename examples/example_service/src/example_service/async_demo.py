"""Call the example service from asyncio code with ``AsyncClient``: ``python -m example_service.async_demo``.

Like ``example_service.demo``, it starts a private ``redis-server`` (or uses ``--redis-url``) and the
service's workers (one by default: its async action ``sum_of_squares`` calls the service's own
``square`` action, and one worker serves both at once), then makes its calls from one event loop:
100 calls at once over one connection, an async action calling another, parallel jobs.
``--local`` runs the service in this process instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import time
from typing import Any

from pysoa.client.async_client import AsyncClient
from pysoa.errors import TransportError


def _show(title: str, value: Any) -> None:
    print(f"\n== {title}")
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


async def run_calls(client: AsyncClient) -> None:
    """Make the calls, all from this one task and the tasks it gathers."""
    response = await client.call_action("example", "square", {"number": 7})
    _show("await client.call_action('example', 'square', {'number': 7})", response.body)

    started = time.monotonic()
    squares = await asyncio.gather(*(client.call_action("example", "square", {"number": n}) for n in range(100)))
    _show(
        f"100 calls at once with asyncio.gather ({time.monotonic() - started:.2f} s)",
        {"first": squares[0].body, "last": squares[-1].body},
    )

    total = await client.call_action("example", "sum_of_squares", {"numbers": [1, 2, 3, 4]}, timeout=10)
    _show("an async action calling another (sum_of_squares -> square x4)", total.body)

    parallel = await client.call_actions_parallel(
        "example", [{"action": "square", "body": {"number": n}} for n in (1, 2, 3)]
    )
    _show("await client.call_actions_parallel", [a.body for a in parallel])  # type: ignore[union-attr]


async def _wait_until_serving(client: AsyncClient, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.call_action("example", "status", {"verbose": False}, timeout=1)
            return
        except TransportError:
            if time.monotonic() > deadline:
                raise RuntimeError("the example service did not start") from None


async def _call(transport: dict[str, Any]) -> None:
    async with AsyncClient({"example": {"transport": transport}}) as client:
        await _wait_until_serving(client)
        await run_calls(client)


def demo_redis(redis_url: str | None, workers: int) -> None:
    from example_service.demo import _private_redis, _workers

    with contextlib.ExitStack() as stack:
        if redis_url is None:
            redis_url = stack.enter_context(_private_redis())
            print(f"Started a private redis-server at {redis_url}")
        stack.enter_context(_workers({"SOA_TRANSPORT": "redis", "REDIS_URL": redis_url}, workers))
        print(f"Calling the example service over Redis ({workers} worker process(es)) with AsyncClient")
        asyncio.run(_call({"name": "redis", "kwargs": {"url": redis_url}}))


def demo_local() -> None:
    from example_service.server import Server
    from example_service.settings import local_settings

    print("The example service over the local transport (in this process), with AsyncClient")
    asyncio.run(_call({"name": "local", "kwargs": {"server_class": Server, "server_settings": local_settings()}}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", action="store_true", help="run in this process over the local transport")
    parser.add_argument("--redis-url", help="use this Redis instead of starting a private one")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args(argv)
    if args.local or (args.redis_url is None and shutil.which("redis-server") is None):
        demo_local()
        return
    demo_redis(args.redis_url, args.workers)


if __name__ == "__main__":
    main()
