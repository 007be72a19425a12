"""The client of ``python -m bench.critical_path``: ``call_action`` in a loop, marking each return to the caller.

    python marked_client.py '<client settings of service "bench" as a Python literal>' CALLS SIZE

After a warm-up it switches callgrind's instrumentation on (``callgrind_control``), makes CALLS calls, each followed
by a ``math.ulp`` call (a C function nothing else here calls: callgrind dumps its counts there), and switches it off.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from math import ulp

from _wl_common import make_body

from pysoa.client.client import Client

_WARMUP = 30


def _instrument(state: str) -> None:
    subprocess.run(["callgrind_control", f"--instr={state}", str(os.getpid())], check=True, capture_output=True)


def main(argv: list[str]) -> int:
    client = Client({"bench": ast.literal_eval(argv[0])})
    calls, body = int(argv[1]), make_body(int(argv[2]))
    for _ in range(_WARMUP):
        client.call_action("bench", "echo", body)
    _instrument("on")
    for _ in range(calls):
        response = client.call_action("bench", "echo", body)
        ulp(0.0)  # the return mark
        if response.body != body:
            raise AssertionError(f"wrong echo: {response.body!r:.200}")
    _instrument("off")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
