"""The benchmark client for soa-core and PySOA 1.4.9 (the same code; only the transport settings differ).

    python pysoa_client.py '<client settings of service "bench" as a Python literal>'

Speaks the driver protocol of ``_wl_common``. With the local transport the settings name
``pysoa_service:BenchServer`` as the server class, and the server runs inside this process.
"""

from __future__ import annotations

import ast
import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _wl_common import make_body, run_driver

from pysoa.client.client import Client

# BENCH_SERVICE: the capacity bench runs several services.
SERVICE = os.environ.get("BENCH_SERVICE", "bench")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    client = Client({SERVICE: ast.literal_eval(argv[0])})

    def make_call(command: dict[str, Any]) -> Callable[[], int]:
        body = make_body(int(command["size"]))
        size = len(body["data"])
        kind = command["call"]
        if kind == "action":

            def call() -> int:
                response = client.call_action(SERVICE, "echo", body)
                if len(response.body["data"]) != size:
                    raise AssertionError(f"wrong echo: {response.body!r:.200}")
                return 1

            return call
        count = int(command["actions"])
        if kind == "concurrent":
            # The sync client's way to make many calls at once: one thread per call in flight.
            pool = ThreadPoolExecutor(count)

            def one(_index: int) -> int:
                return len(client.call_action(SERVICE, "echo", body).body["data"])

            def call_concurrent() -> int:
                sizes = list(pool.map(one, range(count)))
                if sizes != [size] * count:
                    raise AssertionError("wrong echo among the concurrent calls")
                return count

            return call_concurrent
        actions = [{"action": "echo", "body": body} for _ in range(count)]
        if kind == "job":

            def call_job() -> int:
                response = client.call_actions(SERVICE, actions)
                if len(response.actions) != count or len(response.actions[-1].body["data"]) != size:
                    raise AssertionError(f"wrong job response: {response!r:.200}")
                return count

            return call_job
        if kind == "parallel":

            def call_parallel() -> int:
                responses = list(client.call_actions_parallel(SERVICE, actions))
                if len(responses) != count or len(responses[-1].body["data"]) != size:
                    raise AssertionError(f"wrong parallel responses: {responses!r:.200}")
                return count

            return call_parallel
        raise ValueError(f"unknown call {kind!r}")

    # Check the round trip once, fully, before any timing.
    first = client.call_action(SERVICE, "echo", make_body(100))
    if first.body != make_body(100):
        raise AssertionError(f"echo changed the body: {first.body!r}")
    import pysoa.version

    run_driver({"library": "pysoa", "version": getattr(pysoa.version, "__version__", "?")}, make_call)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
