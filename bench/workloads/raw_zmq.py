"""The raw ZeroMQ floor: pyzmq DEALER/ROUTER request-reply with msgpack bodies.

    python raw_zmq.py server PORT                 # ROUTER bound on 127.0.0.1:PORT: unpack, pack, reply
    python raw_zmq.py client PORT [PORT ...]      # a driver (see _wl_common): one DEALER connected to every server

A DEALER spreads requests over the servers it is connected to, and can have several in flight (parallel calls).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import msgpack
import zmq
from _wl_common import make_body, run_driver


def serve(port: int) -> None:
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    context = zmq.Context()
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind(f"tcp://127.0.0.1:{port}")
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)
    print("READY", flush=True)
    while not stopping:
        if not poller.poll(1000):
            continue
        identity, payload = socket.recv_multipart(copy=False)
        request = msgpack.unpackb(payload.buffer)
        socket.send_multipart([identity, msgpack.packb({"id": request["id"], "body": request["body"]})], copy=False)
    socket.close()
    context.term()


def drive(ports: list[int]) -> None:
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    for port in ports:
        socket.connect(f"tcp://127.0.0.1:{port}")
    socket.setsockopt(zmq.RCVTIMEO, 10_000)
    counter = iter(range(1, 1 << 62))

    def call_n(body: dict[str, Any], count: int) -> None:
        pending = set()
        for _ in range(count):
            request_id = next(counter)
            pending.add(request_id)
            socket.send(msgpack.packb({"id": request_id, "body": body}), copy=False)
        while pending:
            reply = msgpack.unpackb(socket.recv(copy=False).buffer)
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

    run_driver({"library": "raw-zmq", "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version()}, make_call)


def main(argv: list[str]) -> int:
    mode, ports = argv[0], [int(port) for port in argv[1:]]
    if mode == "server":
        serve(ports[0])
    else:
        drive(ports)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
