"""Critical-path instructions of the sync client's ``call_action`` over soa-redis (callgrind, split at the socket).

    .venv/bin/python -m bench.critical_path [--calls 100] [--size 100]

In a sequential ``call_action``, what the client does between writing a request and the reply arriving overlaps with
the server's work (which takes far longer), while what it does from reading a reply to writing the next request is
latency it adds to every call. The client runs under callgrind with a profile dump before each ``send`` on a socket,
after each ``recv_into``, and before the ``math.ulp`` call its loop makes as each call returns. Each dump counts the
instructions since the one before: the interval ending at a return is the reply's way back to the caller (from the
read that completed it), the interval ending at a send the way from there to the next request written, and the rest
(after the send, until the reply is read) overlaps with the server. The bench service answers 20 ms late, so that the
client, slowed ~50x under callgrind, still reaches its wait before the reply comes, as it does at full speed.
Figures include the driving loop's own few instructions per call (the same before and after a change).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bench._procs import ServerProcess
from bench._targets import WORKLOADS, soa_redis_settings
from bench.instructions import read_total
from tests.pysoa149.private_redis import private_redis_server

__all__ = ["PHASES", "main", "per_phase", "read_dumps"]

# What ends each interval (callgrind's "Trigger" of its dump), and the phase the interval is.
_TRIGGERS = {
    "--dump-before=math_ulp": "reply read -> returned",
    "--dump-before=sock_send": "returned -> request written",
    "--dump-after=sock_recv_into": "overlapped",
}
PHASES = tuple(_TRIGGERS.values())
_TRIGGER = re.compile(rb"^desc: Trigger: (.*)$", re.MULTILINE)
_SLOW = 600.0


def read_dumps(folder: Path, prefix: str) -> list[tuple[str, int]]:
    """``(trigger, instructions)`` of each numbered dump ``<prefix>.<n>`` in ``folder``, in order."""
    dumps = sorted(folder.glob(f"{prefix}.*"), key=lambda path: int(path.suffix[1:]))
    found = []
    for path in dumps:
        trigger = _TRIGGER.search(path.read_bytes())
        found.append((trigger.group(1).decode() if trigger else "", read_total(path)))
    return found


def per_phase(dumps: Iterable[tuple[str, int]], calls: int) -> dict[str, float]:
    """Instructions per call in each of :data:`PHASES`; dumps of other triggers (program end) are left out."""
    totals = dict.fromkeys(PHASES, 0)
    for trigger, instructions in dumps:
        phase = _TRIGGERS.get(trigger)
        if phase is not None:
            totals[phase] += instructions
    return {phase: total / calls for phase, total in totals.items()}


def measure(calls: int, size: int) -> dict[str, float]:
    python = sys.executable
    with private_redis_server() as redis, tempfile.TemporaryDirectory(prefix="bench-critical-") as folder:
        server = ServerProcess(
            "delayed-server",
            [python, "delayed_service.py", repr(soa_redis_settings(redis.port, True))],
            None,
            WORKLOADS,
            _SLOW,
        )
        try:
            out = Path(folder) / "client.out"
            subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--quiet",
                    "--instr-atstart=no",
                    f"--callgrind-out-file={out}",
                    *_TRIGGERS,
                    python,
                    "marked_client.py",
                    repr(soa_redis_settings(redis.port, False)),
                    str(calls),
                    str(size),
                ],
                cwd=WORKLOADS,
                check=True,
                timeout=_SLOW,
            )
        finally:
            server.stop(_SLOW)
        return per_phase(read_dumps(Path(folder), out.name), calls)


def main(argv: Sequence[str] | None = None, log: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.critical_path", description=__doc__)
    parser.add_argument("--calls", type=int, default=100, help="measured calls")
    parser.add_argument("--size", type=int, default=100, help="echo body size in bytes (MessagePack)")
    args = parser.parse_args(argv)
    phases = measure(args.calls, args.size)
    critical = phases[PHASES[0]] + phases[PHASES[1]]
    log("| client phase of one call_action | instructions |")
    log("|---|---:|")
    for phase, value in phases.items():
        log(f"| {phase} | {value:,.0f} |")
    log(f"| critical path (the first two) | {critical:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
