"""The raw Redis floor: the smallest list-based RPC in Python, with soa-core's own redis-py, hiredis and msgpack.

    python raw_redis.py server PORT [--lua | --lean]  # a bare loop: BLPOP requests, unpack, pack, RPUSH to reply_to
    python raw_redis.py client PORT [--lua | --lean]  # a driver (see _wl_common): RPUSH a request, BLPOP its replies

No envelope beyond ``{id, reply_to, body}``, no validation, no expiry: what is left is the cost no Redis RPC can avoid.
A parallel call pushes every request, then pops every reply.

``--lua`` pushes with soa-redis's own push script (capacity check, RPUSH, EXPIRE and TIME in one EVALSHA) instead of
RPUSH: the difference from the plain floor is what that script costs, measured in the same run.

``--lean`` is **the lean floor**: the same commands, but prepacked and written with ``send_packed_command`` on one
``redis.connection.Connection`` per process, answers read with ``read_response`` (hiredis parser), instead of going
through ``redis.Redis`` methods (command packing, pool checkout, response callbacks). One round trip per command, as
the plain floor: what redis-py costs when only its connection and parser are used.
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


class LeanRedis:
    """RPUSH and BLPOP on one connection, each command packed by hand (the key parts packed once per key)."""

    def __init__(self, port: int) -> None:
        self.connection = redis.connection.Connection(host="127.0.0.1", port=port)  # type: ignore[no-untyped-call]
        self.connection.connect()  # type: ignore[no-untyped-call]
        self._rpush_heads: dict[str, bytes] = {}
        self._blpops: dict[tuple[str, int], list[bytes]] = {}

    def rpush(self, key: str, value: bytes) -> Any:
        head = self._rpush_heads.get(key)
        if head is None:
            encoded = key.encode()
            head = self._rpush_heads[key] = b"*3\r\n$5\r\nRPUSH\r\n$%d\r\n%s\r\n" % (len(encoded), encoded)
        self.connection.send_packed_command([head, b"$%d\r\n" % len(value), value, b"\r\n"], check_health=False)  # type: ignore[no-untyped-call]
        return self.connection.read_response()

    def blpop(self, key: str, timeout: int) -> Any:
        command = self._blpops.get((key, timeout))
        if command is None:
            command = self._blpops[key, timeout] = [b"".join(self.connection.pack_command("BLPOP", key, timeout))]  # type: ignore[no-untyped-call]
        self.connection.send_packed_command(command, check_health=False)  # type: ignore[no-untyped-call]
        return self.connection.read_response()


def connect(port: int, lua: bool, lean: bool) -> tuple[Any, Callable[[str, bytes], Any]]:
    """The object whose ``blpop`` waits, and the push function."""
    if lean:
        lean_connection = LeanRedis(port)
        return lean_connection, lean_connection.rpush
    connection = redis.Redis(host="127.0.0.1", port=port)
    connection.ping()
    return connection, make_push(connection, lua)


def serve(port: int, lua: bool, lean: bool) -> None:
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    connection, push = connect(port, lua, lean)
    print("READY", flush=True)
    while not stopping:
        item = connection.blpop(REQUEST_LIST, 1)
        if item is None:
            continue
        request = msgpack.unpackb(item[1])
        reply = msgpack.packb({"id": request["id"], "body": request["body"]})
        push(request["reply_to"], reply)


def drive(port: int, lua: bool, lean: bool) -> None:
    connection, push = connect(port, lua, lean)
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
            item = connection.blpop(reply_to, 10)
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
        {
            "library": "raw-redis-lean" if lean else "raw-redis",
            "redis": redis.__version__,
            "msgpack": ".".join(map(str, msgpack.version)),
        },
        make_call,
    )


def main(argv: list[str]) -> int:
    mode, port, lua, lean = argv[0], int(argv[1]), "--lua" in argv[2:], "--lean" in argv[2:]
    if mode == "server":
        serve(port, lua, lean)
    else:
        drive(port, lua, lean)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
