"""The service the reliability tests run as real worker processes over Redis.

``python -m tests.reliability.service -s tests.reliability.settings`` serves it until SIGTERM.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pysoa.server import Server
from pysoa.server.types import EnrichedActionRequest

SERVICE = "reliable"


def echo(request: EnrichedActionRequest) -> dict[str, Any]:
    return {**request.body, "pid": os.getpid()}


def sleep(request: EnrichedActionRequest) -> dict[str, Any]:
    """Sleep ``seconds``; first write this worker's pid to ``marker`` (if given) so tests see it started."""
    marker = request.body.get("marker")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(request.body["seconds"])
    return {"slept": request.body["seconds"], "pid": os.getpid()}


class ReliabilityServer(Server):
    service_name = SERVICE
    action_class_map = {"echo": echo, "sleep": sleep}


if __name__ == "__main__":
    ReliabilityServer.main()
