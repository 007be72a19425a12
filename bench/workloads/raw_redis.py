"""The raw Redis floor: the smallest list-based RPC in Python, with soa-core's own redis-py, hiredis and msgpack.

    python raw_redis.py server PORT      # a bare loop: BLPOP the request list, unpack, pack, RPUSH to reply_to
    python raw_redis.py client PORT      # a driver (see _wl_common): RPUSH a request, BLPOP its own reply list

No envelope beyond ``{id, reply_to, body}``, no validation, no expiry: what is left is the cost no Redis RPC can avoid.
A parallel call pushes every request, then pops every reply.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import msgpack
import redis
from _wl_common import make_body, run_driver

REQUEST_LIST = "bench:raw:requests"


def serve(port: int) -> None:
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    connection = redis.Redis(host="127.0.0.1", port=port)
    connection.ping()
    print("READY", flush=True)
    while not stopping:
        item = connection.blpop([REQUEST_LIST], timeout=1)
        if item is None:
            continue
        request = msgpack.unpackb(item[1])
        reply = msgpack.packb({"id": request["id"], "body": request["body"]})
        connection.rpush(request["reply_to"], reply)


def drive(port: int) -> None:
    connection = redis.Redis(host="127.0.0.1", port=port)
    reply_to = f"bench:raw:reply:{os.getpid()}:{os.urandom(4).hex()}"
    counter = iter(range(1, 1 << 62))

    def call_n(body: dict[str, Any], count: int) -> None:
        ids = []
        for _ in range(count):
            request_id = next(counter)
            ids.append(request_id)
            connection.rpush(REQUEST_LIST, msgpack.packb({"id": request_id, "reply_to": reply_to, "body": body}))
        pending = set(ids)
        while pending:
            item = connection.blpop([reply_to], timeout=10)
            if item is None:
                raise TimeoutError("no reply within 10 s")
            reply = msgpack.unpackb(item[1])
            pending.discard(reply["id"])
            if len(reply["body"]["data"]) != len(body["data"]):
                raise AssertionError("wrong echo")

    def make_call(command: dict[str, Any]) -> Callable[[], int]:
        body = make_body(int(command["size"]))
        count = 1 if command["call"] == "action" else int(command["actions"])
        if command["call"] not in ("action", "parallel"):
            raise ValueError(f"raw floor has no {command['call']!r} call")

        def call() -> int:
            call_n(body, count)
            return count

        return call

    run_driver(
        {"library": "raw-redis", "redis": redis.__version__, "msgpack": ".".join(map(str, msgpack.version))}, make_call
    )


def main(argv: list[str]) -> int:
    mode, port = argv[0], int(argv[1])
    if mode == "server":
        serve(port)
    else:
        drive(port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
