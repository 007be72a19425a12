"""A file-spool server transport, so that tests can drive real server processes' ``run()`` loops.

Requests are JSON files dropped into ``<spool>/in``; responses are written to ``<spool>/out``.
It exists to test the server loop (signals, harakiri, heartbeat) in a subprocess without a broker.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from conformity import fields

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout


class SpoolServerTransport(ServerTransport):
    name = "spool-test"
    settings_schema = fields.Dictionary({"spool": fields.UnicodeString()})

    def __init__(
        self, service_name: str, metrics: MetricsRecorder | None = None, instance_index: int = 1, spool: str = ""
    ) -> None:
        super().__init__(service_name, metrics, instance_index)
        self.inbox = os.path.join(spool, "in")
        self.outbox = os.path.join(spool, "out")
        os.makedirs(self.inbox, exist_ok=True)
        os.makedirs(self.outbox, exist_ok=True)

    def receive_request_message(self) -> ReceivedMessage:
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            for name in sorted(n for n in os.listdir(self.inbox) if n.endswith(".json")):
                path = os.path.join(self.inbox, name)
                # Claim by renaming: exactly one rename succeeds, so workers sharing a spool never
                # run the same request twice.
                claimed = f"{path}.{os.getpid()}.claimed"
                try:
                    os.rename(path, claimed)
                except FileNotFoundError:
                    continue  # another worker took it
                with open(claimed) as f:
                    raw = f.read()
                os.unlink(claimed)
                try:
                    message = json.loads(raw)
                except ValueError:
                    raise InvalidMessageError("Not JSON") from None
                return ReceivedMessage(message["request_id"], message["meta"], message["body"])
            time.sleep(0.02)
        raise MessageReceiveTimeout("idle")

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        temporary = os.path.join(self.outbox, f"{request_id}.tmp")
        with open(temporary, "w") as f:
            json.dump({"request_id": request_id, "meta": meta, "body": body}, f)
        os.replace(temporary, os.path.join(self.outbox, f"{request_id}.json"))


def write_request(spool: str, request_id: int, actions: list[dict[str, Any]]) -> None:
    body = {
        "control": {"continue_on_error": False},
        "context": {"correlation_id": f"c{request_id}", "switches": []},
        "actions": actions,
    }
    inbox = os.path.join(spool, "in")
    os.makedirs(inbox, exist_ok=True)
    temporary = os.path.join(inbox, f"{request_id:06d}.tmp")
    with open(temporary, "w") as f:
        json.dump({"request_id": request_id, "meta": {"client_version": [0, 70, 0]}, "body": body}, f)
    os.replace(temporary, os.path.join(inbox, f"{request_id:06d}.json"))


def read_response(spool: str, request_id: int, timeout: float = 10) -> dict[str, Any]:
    path = os.path.join(spool, "out", f"{request_id}.json")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                response: dict[str, Any] = json.load(f)["body"]
                return response
        time.sleep(0.02)
    raise TimeoutError(f"No response {request_id} in {timeout} s")
