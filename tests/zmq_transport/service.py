"""The service the ZeroMQ tests run in worker subprocesses.

``python -m tests.zmq_transport.service '<zmq server transport kwargs as JSON>'`` serves it with
:meth:`pysoa.server.Server.run` until SIGTERM (or SIGKILL). Each response names the worker's pid,
so tests can tell which worker answered.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from pysoa.server import Server
from pysoa.server.types import EnrichedActionRequest


def echo(request: EnrichedActionRequest) -> dict[str, Any]:
    return {**request.body, "pid": os.getpid()}


def sleep(request: EnrichedActionRequest) -> dict[str, Any]:
    """Sleep ``seconds`` and say so; first write this worker's pid to ``pid_file``, add a line to ``mark``, if given."""
    if request.body.get("pid_file"):
        with open(request.body["pid_file"], "w") as file:
            file.write(str(os.getpid()))
    if request.body.get("mark"):
        with open(request.body["mark"], "a") as file:
            file.write(f"{request.body.get('label', '')}\n")
    time.sleep(request.body["seconds"])
    return {"slept": request.body["seconds"], "pid": os.getpid()}


def big(request: EnrichedActionRequest) -> dict[str, Any]:
    """A response of about ``size`` bytes."""
    return {"data": "x" * request.body["size"], "pid": os.getpid()}


class ZmqTestServer(Server):
    service_name = "zmqtest"
    action_class_map = {"echo": echo, "sleep": sleep, "big": big}


def settings(transport_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "transport": {"name": "zmq", "kwargs": transport_kwargs},
        "harakiri": {"timeout": 0, "shutdown_grace": 1},
        "request_log_success_level": "DEBUG",
        "request_log_error_level": "DEBUG",
    }


def main() -> None:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format=f"%(asctime)s worker {os.getpid()} %(name)s: %(message)s"
    )
    ZmqTestServer(settings(json.loads(sys.argv[1]))).run()


if __name__ == "__main__":
    main()
