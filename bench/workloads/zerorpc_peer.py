"""zerorpc (ZeroMQ + msgpack + gevent) as a peer: an ``echo`` method on a server, called by a driver.

    python zerorpc_peer.py server PORT
    python zerorpc_peer.py client PORT [PORT ...]    # one zerorpc.Client connected to every server

Runs in the peers' own venv (.bench-venv). zerorpc has no jobs; parallel calls use its ``async`` futures.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import gevent
import zerorpc
from _wl_common import make_body, run_driver


class Echo:
    def echo(self, body: Any) -> Any:
        return body


def serve(port: int) -> None:
    server = zerorpc.Server(Echo())
    server.bind(f"tcp://127.0.0.1:{port}")
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    print("READY", flush=True)
    server.run()
    server.close()


def drive(ports: list[int]) -> None:
    client = zerorpc.Client(timeout=30)
    for port in ports:
        client.connect(f"tcp://127.0.0.1:{port}")

    def make_call(command: dict[str, Any]) -> Callable[[], int]:
        body = make_body(int(command["size"]))
        size = len(body["data"])
        if command["call"] == "action":

            def call() -> int:
                if len(client.echo(body)["data"]) != size:
                    raise AssertionError("wrong echo")
                return 1

            return call
        if command["call"] == "parallel":
            count = int(command["actions"])

            def call_parallel() -> int:
                # zerorpc 0.6.3 names the option "async" (a keyword since Python 3.7); "async_" is silently ignored.
                futures = [client.echo(body, **{"async": True}) for _ in range(count)]
                if any(len(future.get()["data"]) != size for future in futures):
                    raise AssertionError("wrong echo")
                return count

            return call_parallel
        raise ValueError(f"zerorpc has no {command['call']!r} call")

    run_driver({"library": "zerorpc", "version": getattr(zerorpc, "__version__", "?")}, make_call)


def main(argv: list[str]) -> int:
    mode, ports = argv[0], [int(port) for port in argv[1:]]
    if mode == "server":
        serve(ports[0])
    else:
        drive(ports)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
