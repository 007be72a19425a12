"""Pyro5 (msgpack serializer) as a peer: an exposed ``echo`` method on a daemon, called through a proxy.

    python pyro5_peer.py server PORT            # threaded daemon on 127.0.0.1:PORT
    python pyro5_peer.py client PORT [PORT ...] # a driver, calling the first server listed

Runs in the peers' own venv (.bench-venv). TCP_NODELAY is on for Pyro5's sockets (off by default), which only helps
it on loopback. Pyro5 has no jobs and no parallel calls.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import Pyro5
import Pyro5.api
from _wl_common import make_body, run_driver

Pyro5.api.config.SERIALIZER = "msgpack"
Pyro5.api.config.SOCK_NODELAY = True
Pyro5.api.config.POLLTIMEOUT = 0.5  # how soon the request loop notices a stop request


@Pyro5.api.expose
class Echo:
    def echo(self, body: Any) -> Any:
        return body


def serve(port: int) -> None:
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon = Pyro5.api.Daemon(host="127.0.0.1", port=port)
    daemon.register(Echo, "bench.echo")
    print("READY", flush=True)
    daemon.requestLoop(lambda: not stopping)
    daemon.close()


def drive(ports: list[int]) -> None:
    port = ports[0]  # the runner rotates the list, spreading clients over the servers
    proxy = Pyro5.api.Proxy(f"PYRO:bench.echo@127.0.0.1:{port}")

    def make_call(command: dict[str, Any]) -> Callable[[], int]:
        if command["call"] != "action":
            raise ValueError(f"Pyro5 has no {command['call']!r} call")
        body = make_body(int(command["size"]))
        size = len(body["data"])

        def call() -> int:
            if len(proxy.echo(body)["data"]) != size:
                raise AssertionError("wrong echo")
            return 1

        return call

    run_driver({"library": "Pyro5", "version": Pyro5.__version__}, make_call)


def main(argv: list[str]) -> int:
    mode, ports = argv[0], [int(port) for port in argv[1:]]
    if mode == "server":
        serve(ports[0])
    else:
        drive(ports)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
