"""The bench service, each ``echo`` answered late (``BENCH_ECHO_DELAY`` seconds, default 0.02): for
``python -m bench.critical_path``, whose client runs slowed down under callgrind and must still reach its wait for a
reply before the reply comes, as it does at full speed.

    python delayed_service.py '<server settings as a Python literal>'
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import pysoa_service

_DELAY = float(os.environ.get("BENCH_ECHO_DELAY", "0.02"))
_echo = pysoa_service.EchoAction.run


def _late_echo(self: pysoa_service.EchoAction, request: Any) -> dict[str, Any]:
    time.sleep(_DELAY)
    return _echo(self, request)


if __name__ == "__main__":
    pysoa_service.EchoAction.run = _late_echo  # type: ignore[method-assign]
    sys.exit(pysoa_service.main(sys.argv[1:]))
