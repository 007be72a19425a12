"""A service run as a real process by the server-loop tests: python -m tests.core.server.spool_service SPOOL."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from pysoa.server import Server


def slow(request: Any) -> dict[str, Any]:
    marker = request.body.get("marker")
    if marker:
        # Tells the test the action is running, so it can signal mid-action without guessing.
        Path(marker).write_text(str(os.getpid()))
    time.sleep(request.body["seconds"])
    return {"slept": request.body["seconds"]}


def stuck(request: Any) -> dict[str, Any]:
    # ``except Exception`` must not be able to swallow harakiri.
    try:
        while True:
            time.sleep(0.05)
    except Exception:
        return {"escaped": True}


def stubborn(request: Any) -> dict[str, Any]:
    """Swallows even harakiri's interrupt, as badly written clean-up code can: only the grace alarm ends it."""
    Path(request.body["marker"]).write_text(str(os.getpid()))
    while True:
        try:
            while True:
                time.sleep(0.05)
        except BaseException:
            pass


class SpoolServer(Server):
    service_name = "spool"
    action_class_map = {"slow": slow, "stuck": stuck, "stubborn": stubborn}

    def setup(self) -> None:
        print("READY", flush=True)


def main() -> None:
    spool, harakiri, heartbeat = sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    settings = {
        "transport": {"path": "tests.core.server.spool_transport:SpoolServerTransport", "kwargs": {"spool": spool}},
        "harakiri": {"timeout": harakiri, "shutdown_grace": 2},
        "heartbeat_file": heartbeat,
    }
    SpoolServer(settings).run()
    print("EXITED", flush=True)


if __name__ == "__main__":
    main()
