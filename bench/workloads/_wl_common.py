"""Shared by every workload program: request bodies, the driver protocol and timing helpers.

Stdlib only, and importable by any of the bench interpreters (soa-core's .venv, PySOA 1.4.9's .interop-venv, the
peers' .bench-venv): the programs in this folder are run as scripts, so this module is found next to them.

Driver protocol (one JSON object per line). A client program prints ``{"hello": {...}}`` once it is connected, then
reads commands from stdin. For each measured command it does its warm-up calls, prints ``{"ready": true}``, waits for
a ``go`` line (so the orchestrator can snapshot the CPU time of the servers first, and start several clients at
once), runs, and prints ``{"result": {...}}``. A failure prints ``{"error": "..."}`` and exits non-zero.

Commands: ``{"op": "seq", "call": "action"|"job"|"parallel", "size": bytes, "actions": n, "duration": s,
"min_calls": n, "max_calls": n, "warmup": n}`` and ``{"op": "quit"}``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "make_body",
    "percentiles",
    "run_driver",
    "send",
]

# Fixed fields of every body; "data" is sized so the whole MessagePack-encoded body is about the requested size.
_BASE_BODY: dict[str, Any] = {"id": 123456789, "name": "bench-user", "tags": ["alpha", "beta", "gamma"]}
_BASE_OVERHEAD = 56  # msgpack size of _BASE_BODY plus the "data" key and a str header


def make_body(size: int) -> dict[str, Any]:
    """An echo body whose MessagePack encoding is about ``size`` bytes (at least ~60)."""
    return dict(_BASE_BODY, data="x" * max(size - _BASE_OVERHEAD, 1))


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 (nearest rank), mean, min and max of ``samples`` (seconds)."""
    ordered = sorted(samples)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[min(n - 1, max(0, math.ceil(p * n) - 1))]

    return {
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "mean": sum(ordered) / n,
        "min": ordered[0],
        "max": ordered[-1],
    }


# A call function does one call (of the command's kind) and checks its answer; it returns the number of actions done.
CallFactory = Callable[[dict[str, Any]], Callable[[], int]]


def _read_line() -> str:
    line = sys.stdin.readline()
    if not line:
        raise SystemExit(0)  # the orchestrator went away
    return line.strip()


def _measure(command: dict[str, Any], call: Callable[[], int]) -> dict[str, Any]:
    for _ in range(int(command.get("warmup", 0))):
        call()
    send({"ready": True})
    if _read_line() != "go":
        raise RuntimeError("expected 'go'")
    duration = float(command["duration"])
    min_calls = int(command.get("min_calls", 1))
    max_calls = int(command.get("max_calls", 10**9))
    record = bool(command.get("latencies", True))
    latencies: list[float] = []
    actions = 0
    calls = 0
    clock = time.perf_counter
    cpu_start = time.process_time()
    start = clock()
    end = start + duration
    now = start
    while calls < max_calls and (now < end or calls < min_calls):
        before = now
        actions += call()
        now = clock()
        calls += 1
        if record:
            latencies.append(now - before)
    wall = now - start
    cpu = time.process_time() - cpu_start
    result: dict[str, Any] = {"calls": calls, "actions": actions, "wall": wall, "cpu": cpu}
    if latencies:
        result["latency"] = percentiles(latencies)
    return result


def run_driver(hello: dict[str, Any], make_call: CallFactory) -> None:
    """Serve the orchestrator's commands until ``quit`` (see the module docstring)."""
    send({"hello": dict(hello, pid=os.getpid(), python=sys.version.split()[0])})
    try:
        while True:
            command = json.loads(_read_line())
            op = command.get("op")
            if op == "quit":
                return
            if op != "seq":
                raise ValueError(f"unknown op {op!r}")
            send({"result": _measure(command, make_call(command))})
    except SystemExit:
        raise
    except BaseException as exc:
        send({"error": f"{type(exc).__name__}: {exc}"})
        raise
