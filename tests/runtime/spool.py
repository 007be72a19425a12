"""The file-spool transport of the server-loop tests, made safe for several workers sharing one spool.

Each worker claims a request by renaming it (atomic: exactly one rename of a file succeeds), so two
workers never run the same request.
"""

from __future__ import annotations

import json
import os
import time

from pysoa.common.transport.base import ReceivedMessage
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout
from tests.core.server.spool_transport import SpoolServerTransport, read_response, write_request

__all__ = ["SharedSpoolServerTransport", "read_response", "write_request"]


class SharedSpoolServerTransport(SpoolServerTransport):
    name = "shared-spool-test"

    def receive_request_message(self) -> ReceivedMessage:
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            for name in sorted(n for n in os.listdir(self.inbox) if n.endswith(".json")):
                path = os.path.join(self.inbox, name)
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
