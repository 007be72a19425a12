"""``python -m bench``: run the benchmark, print the Markdown table, write JSON lines and bench/RESULTS.md."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from bench._report import markdown, summarize
from bench._runner import RunOptions, RunResult, run
from bench._scenarios import SCENARIOS, scaled, scenario_names, smoke
from bench._targets import ALL_TARGETS, target_names

__all__ = ["main"]

BENCH_DIR = Path(__file__).resolve().parent
LATEST_RUN_SECTION = "## Latest run"

PREAMBLE = """\
# Benchmark results

Produced by `make bench` (`.venv/bin/python -m bench`), which rewrites this file and `bench/results.jsonl` (one JSON
record per measurement). See `bench/README.md` for what each target and scenario is.

How the comparison is kept fair:

- soa-core and PySOA 1.4.9 run **the same service and client code** (`bench/workloads/pysoa_service.py`,
  `pysoa_client.py`: an `echo` action whose request and response are validated by the same Conformity schema);
  only the transport settings differ. PySOA 1.4.9 runs in its own venv with its C msgpack extension and hiredis.
- Request logging is off on both servers: logging is configured at WARNING, and both libraries log requests at INFO.
- Every server is a real subprocess; the client is another process (the local transport runs the server inside the
  client process, as it does in tests). One private `redis-server` (no persistence) serves every Redis target.
- The raw Redis floor uses soa-core's own redis-py, hiredis and msgpack: `RPUSH` a `{id, reply_to, body}` request,
  `BLPOP` the reply list, and a bare server loop. `raw-redis-lua` is the same floor pushing with soa-redis's Lua push
  script (capacity check, `RPUSH`, `EXPIRE`, `TIME`), to show that script's share. `raw-redis-lean` is **the lean
  floor**: the same loop with prepacked commands written with `send_packed_command` + `read_response` on one
  `redis.connection.Connection` per process (hiredis), i.e. redis-py without its `redis.Redis` command path; the
  Redis goals and the "÷ floor" ratios are taken against it. The raw ZeroMQ floor is pyzmq DEALER/ROUTER with
  msgpack.
- soa-core over ZeroMQ runs twice: `soa-zmq` with its workers behind the service's router (the default `auto` role,
  needed for several workers; the bench runs the router and counts its CPU with the servers'), and `soa-zmq-direct`
  with one worker binding the endpoint itself (`standalone` role, one-server scenarios only).
- zerorpc and Pyro5 (msgpack serializer, TCP_NODELAY on) run in their own venv with exact pins.
- CPU per call adds the CPU time of the client, the server processes and redis-server over the measurement, divided
  by the calls. The 1x1 closed-loop throughput is the rate of the sequential latency run (one client, one server).
- PySOA 1.4.9's local transport never serializes; soa-core's does by default (`serialize=False` is shown too).
- `soa-redis-otel` and `soa-local-otel` are `soa-redis` and `soa-local` with soa-otel's middleware on both sides and
  the OpenTelemetry SDK set up (spans made and batch-processed, then discarded; metrics aggregated, never collected):
  compared with their plain twins, they show what tracing and metrics cost per call.
"""


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few calls per target and scenario; checks, no timing")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5; 1 with --smoke)")
    parser.add_argument("--targets", default=",".join(target_names()), help="comma-separated targets")
    parser.add_argument("--scenarios", default=",".join(scenario_names()), help="comma-separated scenarios")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every measurement's duration")
    parser.add_argument("--out", type=Path, default=None, help="directory for RESULTS.md and results.jsonl")
    parser.add_argument("--no-save", action="store_true", help="write no files (a full run saves into bench/)")
    parser.add_argument(
        "--allow-missing", default="", help="with --smoke: targets that may be unavailable (comma-separated)"
    )
    args = parser.parse_args(argv)
    for option, known in (("targets", target_names()), ("scenarios", scenario_names())):
        names = [name for name in getattr(args, option).split(",") if name]
        unknown = sorted(set(names) - set(known))
        if unknown:
            parser.error(f"unknown {option}: {', '.join(unknown)} (known: {', '.join(known)})")
        setattr(args, option, names)
    if args.reps is None:
        args.reps = 1 if args.smoke else 5
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    return args


def _command_line(argv: Sequence[str]) -> str:
    return " ".join(["python -m bench", *argv]) if argv else "make bench"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    targets = [target for target in ALL_TARGETS if target.name in args.targets]
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    scenarios = [smoke(s) if args.smoke else scaled(s, args.scale) for s in scenarios]
    out_dir: Path | None = args.out
    if out_dir is None and not (args.smoke or args.no_save):
        out_dir = BENCH_DIR
    jsonl: TextIO | None = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        jsonl = (out_dir / "results.jsonl").open("w")

    def log(message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def record(item: dict[str, Any]) -> None:
        if jsonl is not None:
            jsonl.write(json.dumps(item) + "\n")
            jsonl.flush()

    try:
        result = run(RunOptions(targets, scenarios, args.reps, log, record))
        summary = summarize(result.records)
        record({"type": "run", "command": _command_line(argv), "smoke": args.smoke, **result.info})
        record(
            {
                "type": "summary",
                "medians": [{"target": t, "scenario": s, **m} for (t, s), m in sorted(summary.medians.items())],
                "goals": summary.goal_rows(),
                "unavailable": result.unavailable,
            }
        )
    finally:
        if jsonl is not None:
            jsonl.close()
    table = markdown(summary, result.info, result.unavailable, _command_line(argv))
    print(table)
    if out_dir is not None:
        results = out_dir / "RESULTS.md"
        previous = results.read_text() if results.exists() else ""
        results.write_text(
            PREAMBLE + f"\n{LATEST_RUN_SECTION}\n\n" + table + "\n" + _sections_after_latest_run(previous)
        )
        log(f"wrote {out_dir / 'RESULTS.md'} and {out_dir / 'results.jsonl'}")
    if args.smoke:
        problems = smoke_problems(result, targets, scenarios, set(filter(None, args.allow_missing.split(","))))
        for problem in problems:
            log(f"SMOKE FAILURE: {problem}")
        if problems:
            return 1
        log(f"smoke OK: {len(targets) - len(result.unavailable)} targets produced numbers for every scenario")
    elif summary.errors:
        return 1
    return 0


def smoke_problems(
    result: RunResult, targets: Sequence[Any], scenarios: Sequence[Any], allow_missing: set[str]
) -> list[str]:
    """Every selected target ran every scenario it supports and produced numbers (no timing is judged)."""
    problems = []
    measured = {(r["target"], r["scenario"]): r for r in result.records if r.get("type") == "measurement"}
    for error in result.records:
        if error.get("type") == "error":
            problems.append(f"{error['target']} {error.get('scenario') or ''} failed: {error['error']}")
    for target in targets:
        if target.name in result.unavailable:
            if target.name not in allow_missing:
                problems.append(f"{target.name} did not run: {result.unavailable[target.name]}")
            continue
        for scenario in scenarios:
            if scenario.name not in target.scenarios:
                continue
            record = measured.get((target.name, scenario.name))
            if record is None:
                problems.append(f"{target.name} {scenario.name}: no measurement")
                continue
            needed = ["calls_per_s", "actions_per_s", "cpu_per_action_us", "p50_us", "p99_us"]
            bad = [k for k in needed if not isinstance(record.get(k), int | float) or not record[k] > 0]
            if record.get("calls", 0) < 1 or bad:
                problems.append(f"{target.name} {scenario.name}: no numbers for {bad or 'calls'}: {record}")
    return problems


def _sections_after_latest_run(previous: str) -> str:
    """The sections written by other programs or by hand after the run's tables (bench/capacity.py's Redis
    capacity, the profile of what remains per call): a new run replaces its own tables only."""
    start = previous.find(LATEST_RUN_SECTION)
    if start < 0:
        return ""
    following = previous.find("\n## ", start + len(LATEST_RUN_SECTION))
    return "" if following < 0 else "\n" + previous[following + 1 :]
