"""The benchmark service, written against PySOA's public API so the same code runs on soa-core and on PySOA 1.4.9.

As a program it runs one server process:

    python pysoa_service.py '<server settings as a Python literal>'

It prints ``READY`` on stdout when its loop is about to take the first request and stops cleanly on SIGTERM. Logging
is configured at WARNING, so neither library logs each request (PySOA and soa-core log requests at INFO).
"""

from __future__ import annotations

import ast
import logging
import os
import sys
from typing import Any

from conformity import fields

from pysoa.server.action import Action
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings

# BENCH_SERVICE: the capacity bench runs several services.
SERVICE_NAME = os.environ.get("BENCH_SERVICE", "bench")

# A realistic small schema, validated on the way in and on the way out by both libraries (the same Conformity).
BODY_SCHEMA = fields.Dictionary(
    {
        "id": fields.Integer(),
        "name": fields.UnicodeString(),
        "tags": fields.List(fields.UnicodeString()),
        "data": fields.UnicodeString(),
    }
)


class EchoAction(Action):
    request_schema = BODY_SCHEMA
    response_schema = BODY_SCHEMA

    def run(self, request: Any) -> dict[str, Any]:
        return dict(request.body)


class BenchServer(Server):
    service_name = SERVICE_NAME
    action_class_map = {"echo": EchoAction}

    # Set by main(): only a server process announces itself (with the local transport the client's process runs
    # this class, and its stdout belongs to the driver protocol).
    announce = False

    def handle_next_request(self) -> None:
        # The first call comes from inside run(), after the signal handlers are installed: a SIGTERM sent after
        # READY always gets the clean shutdown.
        if self.announce:
            self.announce = False
            print("READY", flush=True)
        super().handle_next_request()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = ServerSettings(ast.literal_eval(argv[0]))
    server = BenchServer(settings)
    server.announce = True
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
