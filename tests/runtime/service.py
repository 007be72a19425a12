"""The service the runtime tests run as real worker processes (over the shared file spool).

Environment: ``RUNTIME_CRASH_AT_START=1`` makes every worker fail in ``setup()`` (a crash loop).
"""

from __future__ import annotations

import datetime
import decimal
import os
import time
from pathlib import Path
from typing import Any

from currint import Amount

from pysoa.server import Server


def whoami(request: Any) -> dict[str, Any]:
    server = request._server
    return {"pid": os.getpid(), "fid": server.forked_process_id}


def slow(request: Any) -> dict[str, Any]:
    # The marker tells the test the action is running, so it can signal mid-action without guessing.
    Path(request.body["marker"]).write_text(str(os.getpid()))
    time.sleep(request.body["seconds"])
    return {"slept": request.body["seconds"], "pid": os.getpid()}


def types(request: Any) -> dict[str, Any]:
    """Every value type the wire carries beyond JSON's, for the ``soa call`` output."""
    return {
        "when": datetime.datetime(2024, 2, 29, 13, 45, 30, 123456, tzinfo=datetime.UTC),
        "day": datetime.date(2024, 2, 29),
        "at": datetime.time(13, 45),
        "price": decimal.Decimal("12.3400"),
        "money": Amount.from_code_and_minor("USD", 1234),
        "raw": b"\x00\xffsoa",
        "text": "naïve ☃",
    }


def stuck(request: Any) -> dict[str, Any]:
    while True:
        time.sleep(0.05)


class RuntimeServer(Server):
    """A service for the runtime tests."""

    service_name = "runtime"
    action_class_map = {"whoami": whoami, "slow": slow, "stuck": stuck, "types": types}

    def setup(self) -> None:
        super().setup()
        if os.environ.get("RUNTIME_CRASH_AT_START") == "1":
            raise RuntimeError("crashing at start on purpose")
