"""The raw Redis floor: the smallest list-based RPC in Python, with soa-core's own redis-py, hiredis and msgpack.

    python raw_redis.py server PORT [--lua]   # a bare loop: BLPOP the request list, unpack, pack, RPUSH to reply_to
    python raw_redis.py client PORT [--lua]   # a driver (see _wl_common): RPUSH a request, BLPOP its own reply list

No envelope beyond ``{id, reply_to, body}``, no validation, no expiry: what is left is the cost no Redis RPC can avoid.
A parallel call pushes every request, then pops every reply.

``--lua`` pushes with soa-redis's own push script (capacity check, RPUSH, EXPIRE and TIME in one EVALSHA) instead of
RPUSH: the difference from the plain floor is what that script costs, measured in the same run.
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
QUEUE_CAPACITY = 10_000
EXPIRY_SECONDS = 60


def make_push(connection: redis.Redis, lua: bool) -> Callable[[str, bytes], Any]:
    if not lua:
        return connection.rpush
    # soa-redis's script itself (a private name, read at run time so this ablation follows the transport).
    from soa_redis._backend import _PUSH_SCRIPT

    script = connection.register_script(_PUSH_SCRIPT)
    return lambda key, value: script(keys=[key], args=[EXPIRY_SECONDS, QUEUE_CAPACITY, value])


def serve(port: int, lua: bool) -> None:
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    connection = redis.Redis(host="127.0.0.1", port=port)
    connection.ping()
    push = make_push(connection, lua)
    print("READY", flush=True)
    while not stopping:
        item = connection.blpop([REQUEST_LIST], timeout=1)
        if item is None:
            continue
        request = msgpack.unpackb(item[1])
        reply = msgpack.packb({"id": request["id"], "body": request["body"]})
        push(request["reply_to"], reply)


def drive(port: int, lua: bool) -> None:
    connection = redis.Redis(host="127.0.0.1", port=port)
    push = make_push(connection, lua)
    reply_to = f"bench:raw:reply:{os.getpid()}:{os.urandom(4).hex()}"
    counter = iter(range(1, 1 << 62))

    def call_n(body: dict[str, Any], count: int) -> None:
        ids = []
        for _ in range(count):
            request_id = next(counter)
            ids.append(request_id)
            push(REQUEST_LIST, msgpack.packb({"id": request_id, "reply_to": reply_to, "body": body}))
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
    mode, port, lua = argv[0], int(argv[1]), "--lua" in argv[2:]
    if mode == "server":
        serve(port, lua)
    else:
        drive(port, lua)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
