"""Instructions per call, process by process: the bench's targets run under valgrind's callgrind.

    .venv/bin/python -m bench.instructions [--targets soa-redis,raw-redis-lean] [--calls 200,400] [--size 100]

Wall-clock figures move with the machine's load; instruction counts do not, so this is how a change to the per-call
path is compared with the floors while other work runs on the machine. Each target's processes (its client, its one
server, soa-zmq's router) run under callgrind twice, doing ``n1`` and then ``n2`` measured ``call_action`` calls after
the same warm-up: the difference of each process's total, divided by ``n2 - n1``, is what one call costs in that
process, free of start-up, warm-up and shutdown. redis-server is not counted (it is the same for every Redis target).
Interpreter work dominates Python's instruction counts, so they track CPU time closely; system calls and the time
spent waiting for the other process are not in them.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench._procs import Driver, PortProcess, ServerProcess
from bench._runner import _free_port
from bench._targets import ALL_TARGETS, WORKLOADS, Context, Target
from tests.pysoa149.private_redis import private_redis_server

__all__ = ["Measurement", "main", "per_call", "read_total"]

DEFAULT_TARGETS = ("soa-redis", "raw-redis-lean", "soa-zmq", "soa-zmq-direct", "raw-zmq", "soa-local")
FLOOR_OF_FAMILY = {"redis": "raw-redis-lean", "zmq": "raw-zmq"}
# Under callgrind Python runs ~50x slower: start-up alone takes tens of seconds.
_SLOW = 600.0
_TOTAL = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def read_total(path: Path) -> int:
    """The instructions a callgrind output file counts in all (its ``summary:`` or ``totals:`` line)."""
    found = _TOTAL.search(path.read_bytes())
    if found is None:
        raise ValueError(f"{path}: no summary or totals line; did the process exit cleanly?")
    return int(found.group(1))


def per_call(first: int, second: int, calls: tuple[int, int]) -> float:
    """Instructions of one call: the growth of a process's total between a run of ``calls[0]`` and one of
    ``calls[1]`` calls."""
    n1, n2 = calls
    if n2 <= n1:
        raise ValueError(f"the second run must make more calls than the first, not {n1} then {n2}")
    return (second - first) / (n2 - n1)


@dataclass(frozen=True)
class Measurement:
    target: str
    family: str
    # Instructions per call by role ("client", "server", "router"); a local target has only its client.
    per_role: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.per_role.values())


def _under_callgrind(argv: Sequence[str], out: Path) -> list[str]:
    # Start-up runs uninstrumented (several times faster); _instrument() switches counting on once all are up.
    return ["valgrind", "--tool=callgrind", "--quiet", "--instr-atstart=no", f"--callgrind-out-file={out}", *argv]


def _instrument(pids: Sequence[int]) -> None:
    for pid in pids:
        subprocess.run(["callgrind_control", "--instr=on", str(pid)], check=True, capture_output=True, timeout=_SLOW)


def _run_once(target: Target, ctx: Context, calls: int, size: int, folder: Path) -> dict[str, int]:
    """One run of ``calls`` measured calls; the total instructions of each of the target's processes."""
    outputs: dict[str, Path] = {}

    def wrapped(role: str, argv: Sequence[str]) -> list[str]:
        outputs[role] = folder / f"{target.name}-{role}-{calls}.out"
        return _under_callgrind(argv, outputs[role])

    port = _free_port()
    started: list[PortProcess | ServerProcess] = []
    try:
        if target.infra is not None:
            argv, env = target.infra(ctx, port)
            started.append(PortProcess(f"{target.name}-router", wrapped("router", argv), env, WORKLOADS, port, _SLOW))
        if target.server is not None:
            argv, env = target.server(ctx, port)
            started.append(ServerProcess(f"{target.name}-server", wrapped("server", argv), env, WORKLOADS, _SLOW))
        argv, env = target.client(ctx, [port])
        driver = Driver(f"{target.name}-client", wrapped("client", argv), env, WORKLOADS)
        try:
            driver.wait_hello(_SLOW)
            _instrument([process.pid for process in started] + [driver.pid])
            command = {"op": "seq", "call": "action", "size": size, "duration": 0.0, "warmup": 30}
            driver.prepare({**command, "min_calls": calls, "max_calls": calls}, _SLOW)
            driver.go()
            driver.result(_SLOW)
        finally:
            driver.quit()
    finally:
        # Servers stop before the router, as they would in production; each writes its callgrind file on exit.
        for process in reversed(started):
            process.stop(_SLOW)
    return {role: read_total(path) for role, path in outputs.items()}


def measure(target: Target, ctx: Context, calls: tuple[int, int], size: int, folder: Path) -> Measurement:
    first = _run_once(target, ctx, calls[0], size, folder)
    second = _run_once(target, ctx, calls[1], size, folder)
    per_role = {role: per_call(first[role], second[role], calls) for role in first}
    return Measurement(target.name, target.family, per_role)


def table(measurements: Sequence[Measurement]) -> str:
    """Markdown: instructions per call by process, and each target's total against the floor of its transport."""
    totals = {m.target: m.total for m in measurements}
    lines = [
        "| target | client | server | router | all processes | ÷ floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in measurements:
        floor = totals.get(FLOOR_OF_FAMILY.get(m.family, ""))
        ratio = f"{m.total / floor:.2f}x" if floor else "-"
        cells = [f"{m.per_role[role]:,.0f}" if role in m.per_role else "-" for role in ("client", "server", "router")]
        lines.append(f"| {m.target} | {' | '.join(cells)} | {m.total:,.0f} | {ratio} |")
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS), help="comma-separated targets")
    parser.add_argument("--calls", default="200,400", help="measured calls of the two runs, e.g. 200,400")
    parser.add_argument("--size", type=int, default=100, help="echo body size in bytes (MessagePack)")
    args = parser.parse_args(argv)
    known = {target.name: target for target in ALL_TARGETS}
    names = [name for name in args.targets.split(",") if name]
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)}")
    args.targets = [known[name] for name in names]
    try:
        n1, n2 = (int(part) for part in args.calls.split(","))
    except ValueError:
        parser.error(f"--calls takes two numbers, e.g. 200,400, not {args.calls!r}")
    if not 0 < n1 < n2:
        parser.error(f"--calls: the second run must make more calls than the first, not {args.calls}")
    args.calls = (n1, n2)
    return args


def main(argv: Sequence[str] | None = None, log: Callable[[str], None] = print) -> int:
    args = _parse(argv)
    ctx = Context(redis_port=0, soa_python=sys.executable, soa_env=dict(os.environ), zmq_floor_python=sys.executable)
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as folder, private_redis_server() as redis:
        ctx.redis_port = redis.port
        for target in args.targets:
            log(f"{target.name}: {args.calls[0]} then {args.calls[1]} calls under callgrind ...")
            measurements.append(measure(target, ctx, args.calls, args.size, Path(folder)))
    log(table(measurements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
