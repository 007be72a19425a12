"""Turn a run's records into medians, ratios within the run, the performance goals' status, and Markdown."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench._targets import ALL_TARGETS

__all__ = ["GOALS", "Goal", "Summary", "markdown", "summarize"]

Key = tuple[str, str]  # (target, scenario)


@dataclass(frozen=True)
class Goal:
    """``target.scenario.metric`` divided by ``other.scenario.metric`` compared with ``bound``."""

    text: str
    target: str
    other: str
    scenario: str
    metric: str
    bound: float
    at_most: bool  # True: ratio <= bound; False: ratio >= bound
    strict: bool = False  # "below" rather than "at most"

    def met(self, ratio: float) -> bool:
        if self.at_most:
            return ratio < self.bound if self.strict else ratio <= self.bound
        return ratio >= self.bound


_LEAN = "raw-redis-lean"

GOALS: tuple[Goal, ...] = (
    Goal("Redis `call_action` p50 ≤ 1.5x lean floor", "soa-redis", _LEAN, "lat_100B", "p50_us", 1.5, True),
    Goal("Redis `call_action` p50 ≤ 0.4x PySOA 1.4.9", "soa-redis", "pysoa149-redis", "lat_100B", "p50_us", 0.4, True),
    Goal(
        "CPU per call, all processes, sequential ≤ 1.5x lean floor",
        "soa-redis",
        _LEAN,
        "lat_100B",
        "cpu_per_action_us",
        1.5,
        True,
    ),
    Goal(
        "CPU per call, all processes, 2x4 ≤ 1.5x lean floor",
        "soa-redis",
        _LEAN,
        "tput_2x4",
        "cpu_per_action_us",
        1.5,
        True,
    ),
    Goal("Redis throughput 2x4 ≥ 0.65x lean floor", "soa-redis", _LEAN, "tput_2x4", "calls_per_s", 0.65, False),
    Goal("Redis throughput 2x4 ≥ 3x PySOA 1.4.9", "soa-redis", "pysoa149-redis", "tput_2x4", "calls_per_s", 3, False),
    Goal("10-action `call_actions_parallel` p50 ≤ 2x lean floor", "soa-redis", _LEAN, "par_10", "p50_us", 2, True),
    Goal("1 MB echo p50 ≤ 1.5x lean floor", "soa-redis", _LEAN, "lat_1MB", "p50_us", 1.5, True),
    Goal(
        "ZeroMQ `call_action` p50 ≤ 1.6x raw ZeroMQ floor (router, auto role)",
        "soa-zmq",
        "raw-zmq",
        "lat_100B",
        "p50_us",
        1.6,
        True,
    ),
    Goal(
        "ZeroMQ `call_action` p50 ≤ 1.3x raw ZeroMQ floor (standalone)",
        "soa-zmq-direct",
        "raw-zmq",
        "lat_100B",
        "p50_us",
        1.3,
        True,
    ),
    Goal(
        "ZeroMQ `call_action` p50 ≤ 0.5x soa-core Redis (one worker, standalone)",
        "soa-zmq-direct",
        "soa-redis",
        "lat_100B",
        "p50_us",
        0.5,
        True,
    ),
    Goal(
        "ZeroMQ `call_action` p50 below Pyro5's (one worker, standalone)",
        "soa-zmq-direct",
        "pyro5",
        "lat_100B",
        "p50_us",
        1.0,
        True,
        strict=True,
    ),
    Goal(
        "ZeroMQ `call_action` p50 ≤ 0.5x soa-core Redis (through the router)",
        "soa-zmq",
        "soa-redis",
        "lat_100B",
        "p50_us",
        0.5,
        True,
    ),
    Goal(
        "ZeroMQ `call_action` p50 below Pyro5's (through the router)",
        "soa-zmq",
        "pyro5",
        "lat_100B",
        "p50_us",
        1.0,
        True,
        strict=True,
    ),
    Goal(
        "local `call_action` (serialized) ≤ 0.5x PySOA 1.4.9 local, per call (mean)",
        "soa-local",
        "pysoa149-local",
        "lat_100B",
        "mean_us",
        0.5,
        True,
    ),
    # Issue 13: one process with 100 calls in flight against 2 workers. asyncio should carry them at least
    # as fast as 100 threads on the sync client, and keep up with FastStream's Redis request/reply.
    Goal(
        "100 calls in flight: AsyncClient calls/s ≥ 1x the sync client with 100 threads",
        "soa-redis-async",
        "soa-redis",
        "conc_100",
        "actions_per_s",
        1.0,
        False,
    ),
    Goal(
        "100 calls in flight: AsyncClient calls/s ≥ 1x FastStream's Redis request/reply",
        "soa-redis-async",
        "faststream-redis",
        "conc_100",
        "actions_per_s",
        1.0,
        False,
    ),
    Goal(
        "100 calls in flight: AsyncClient CPU per call ≤ 1x FastStream's, all processes",
        "soa-redis-async",
        "faststream-redis",
        "conc_100",
        "cpu_per_action_us",
        1.0,
        True,
    ),
    Goal(
        "job of 20 actions ≥ 2x PySOA 1.4.9 actions/s",
        "soa-redis",
        "pysoa149-redis",
        "job_20",
        "actions_per_s",
        2,
        False,
    ),
)


@dataclass
class Summary:
    medians: dict[Key, dict[str, float]]
    per_rep: dict[Key, dict[int, dict[str, Any]]]
    repetitions: int
    errors: list[dict[str, Any]]

    def value(self, target: str, scenario: str, metric: str) -> float | None:
        return self.medians.get((target, scenario), {}).get(metric)

    def ratio(self, target: str, other: str, scenario: str, metric: str) -> float | None:
        mine, theirs = self.value(target, scenario, metric), self.value(other, scenario, metric)
        if mine is None or not theirs:
            return None
        return mine / theirs

    def rep_ratios(self, target: str, other: str, scenario: str, metric: str) -> list[float]:
        """The ratio within each repetition that measured both (shows how stable the median ratio is)."""
        mine, theirs = self.per_rep.get((target, scenario), {}), self.per_rep.get((other, scenario), {})
        ratios = []
        for rep in sorted(set(mine) & set(theirs)):
            a, b = mine[rep].get(metric), theirs[rep].get(metric)
            if a is not None and b:
                ratios.append(a / b)
        return ratios

    def goal_rows(self) -> list[dict[str, Any]]:
        rows = []
        for goal in GOALS:
            ratio = self.ratio(goal.target, goal.other, goal.scenario, goal.metric)
            reps = self.rep_ratios(goal.target, goal.other, goal.scenario, goal.metric)
            rows.append(
                {
                    "goal": goal.text,
                    "target": goal.target,
                    "other": goal.other,
                    "scenario": goal.scenario,
                    "metric": goal.metric,
                    "ratio": ratio,
                    "rep_ratios": reps,
                    "status": "n/a" if ratio is None else ("met" if goal.met(ratio) else "MISSED"),
                }
            )
        return rows


def summarize(records: Iterable[Mapping[str, Any]]) -> Summary:
    per_rep: dict[Key, dict[int, dict[str, Any]]] = defaultdict(dict)
    errors = []
    reps = 0
    for record in records:
        if record.get("type") == "error":
            errors.append(dict(record))
        if record.get("type") != "measurement":
            continue
        reps = max(reps, int(record["rep"]))
        per_rep[(record["target"], record["scenario"])][int(record["rep"])] = dict(record)
    medians: dict[Key, dict[str, float]] = {}
    for key, by_rep in per_rep.items():
        metrics: dict[str, list[float]] = defaultdict(list)
        for record in by_rep.values():
            for name, value in record.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and name != "rep":
                    metrics[name].append(float(value))
        medians[key] = {name: statistics.median(values) for name, values in metrics.items()}
    return Summary(medians, dict(per_rep), reps, errors)


# --- Markdown --------------------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


_FLOOR = {"redis": _LEAN, "zmq": "raw-zmq"}
_PYSOA = {"redis": "pysoa149-redis", "local": "pysoa149-local"}


def markdown(summary: Summary, info: Mapping[str, Any], unavailable: Mapping[str, str], command: str) -> str:
    labels = {target.name: target.label for target in ALL_TARGETS}
    families = {target.name: target.family for target in ALL_TARGETS}
    present = [t.name for t in ALL_TARGETS if any(key[0] == t.name for key in summary.medians)]
    machine = info.get("machine", {})
    v = summary.value
    out: list[str] = []
    out.append(f"Command: `{command}`  ")
    out.append(
        f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu') or 'unknown CPU'}), {machine.get('memory')}, "
        f"{machine.get('platform')}, Python {machine.get('python')}, {machine.get('redis_server')}; "
        f"commit {machine.get('commit') or '?'}  "
    )
    before, after = info.get("loadavg_before"), info.get("loadavg_after")
    loads = [r["loadavg_1m"] for key in summary.per_rep for r in summary.per_rep[key].values() if "loadavg_1m" in r]
    load_text = (
        f"Machine load: 1/5/15-minute load average {_loads(before)} before, {_loads(after)} after"
        f" (nproc {machine.get('nproc')})"
    )
    if loads:
        load_text += f"; 1-minute load during the measurements {min(loads):.2f}-{max(loads):.2f}"
    out.append(load_text + "  ")
    out.append(
        f"Repetitions: {summary.repetitions}, targets interleaved (order rotated each repetition); "
        f"set-up {info.get('prepare_s')} s, measurements {info.get('measure_s')} s, total {info.get('total_s')} s."
    )
    out.append("")

    out.append("### Goals (ratios of medians within this run; range over the repetitions in brackets)")
    out.append("")
    goal_rows = []
    for row in summary.goal_rows():
        reps = row["rep_ratios"]
        spread = f" [{min(reps):.2f}-{max(reps):.2f}]" if len(reps) > 1 else ""
        goal_rows.append(
            [row["goal"], f"{row['target']} vs {row['other']}", _ratio(row["ratio"]) + spread, row["status"]]
        )
    out += _table(["goal", "compared", "ratio", "status"], goal_rows)
    out.append("")

    out.append(f"### Latency and CPU (µs, median of {summary.repetitions} repetitions)")
    out.append("")
    rows = []
    for name in present:
        if not any(v(name, s, "p50_us") is not None for s in ("lat_100B", "lat_10KB", "lat_1MB")):
            continue
        rows.append(
            [
                f"{name} ({labels[name]})",
                _num(v(name, "lat_100B", "p50_us"), 1),
                _num(v(name, "lat_100B", "p90_us"), 1),
                _num(v(name, "lat_100B", "p99_us"), 1),
                _num(v(name, "lat_100B", "mean_us"), 1),
                _num(v(name, "lat_10KB", "p50_us"), 1),
                _num(v(name, "lat_1MB", "p50_us")),
                _num(v(name, "lat_100B", "cpu_per_action_us"), 1),
                _num(v(name, "lat_100B", "calls_per_s")),
            ]
        )
    out += _table(
        [
            "target",
            "100 B p50",
            "p90",
            "p99",
            "mean",
            "10 KB p50",
            "1 MB p50",
            "CPU per call, all processes",
            "1x1 calls/s",
        ],
        rows,
    )
    out.append("")

    out.append("### Throughput")
    out.append("")
    rows = []
    for name in present:
        values = [
            v(name, "tput_2x4", "calls_per_s"),
            v(name, "tput_2x4", "cpu_per_action_us"),
            v(name, "job_20", "actions_per_s"),
            v(name, "job_20", "p50_us"),
            v(name, "par_10", "p50_us"),
            v(name, "par_10", "actions_per_s"),
        ]
        if all(value is None for value in values):
            continue
        rows.append(
            [
                name,
                _num(values[0]),
                _num(values[1], 1),
                _num(values[2]),
                _num(None if values[3] is None else values[3] / 1000, 2),
                _num(None if values[4] is None else values[4] / 1000, 2),
                _num(values[5]),
            ]
        )
    out += _table(
        [
            "target",
            "2x4 calls/s",
            "2x4 CPU µs/call",
            "job of 20: actions/s",
            "job p50 ms",
            "parallel 10 (2 servers) p50 ms",
            "parallel actions/s",
        ],
        rows,
    )
    out.append("")

    out.append("### 100 calls in flight from one process (2 servers): AsyncClient vs the sync client with threads")
    out.append("")
    rows = []
    for name in present:
        calls_per_s = v(name, "conc_100", "actions_per_s")
        if calls_per_s is None:
            continue
        batch_p50 = v(name, "conc_100", "p50_us")
        rows.append(
            [
                f"{name} ({labels[name]})",
                _num(None if batch_p50 is None else batch_p50 / 1000, 2),
                _num(calls_per_s),
                _num(v(name, "conc_100", "cpu_per_action_us"), 1),
                _ratio(summary.ratio(name, "soa-redis", "conc_100", "actions_per_s")),
                _ratio(summary.ratio(name, "faststream-redis", "conc_100", "actions_per_s")),
                _ratio(summary.ratio(name, "faststream-redis", "conc_100", "cpu_per_action_us")),
            ]
        )
    out += _table(
        [
            "target",
            "batch of 100 p50 ms",
            "calls/s",
            "CPU µs/call, all processes",
            "calls/s ÷ soa-redis (sync client, 100 threads)",
            "calls/s ÷ FastStream",
            "CPU/call ÷ FastStream",
        ],
        rows,
    )
    out.append("")

    out.append("### Ratios within the run (this target ÷ the floor of its transport, or ÷ PySOA 1.4.9)")
    out.append("")
    rows = []
    for name in present:
        family = families[name]
        floor, pysoa = _FLOOR.get(family), _PYSOA.get(family)
        if name in (floor, pysoa):
            continue

        def r(other: str | None, scen: str, metric: str, name: str = name) -> str:
            return _ratio(summary.ratio(name, other, scen, metric) if other else None)

        rows.append(
            [
                name,
                r(floor, "lat_100B", "p50_us"),
                r(pysoa, "lat_100B", "p50_us"),
                r(floor, "lat_100B", "cpu_per_action_us"),
                r(pysoa, "lat_100B", "cpu_per_action_us"),
                r(floor, "tput_2x4", "calls_per_s"),
                r(pysoa, "tput_2x4", "calls_per_s"),
                r(pysoa, "job_20", "actions_per_s"),
                r(floor, "par_10", "p50_us"),
                r(pysoa, "par_10", "p50_us"),
            ]
        )
    out += _table(
        [
            "target",
            "p50 ÷ floor",
            "p50 ÷ PySOA",
            "CPU/call ÷ floor",
            "CPU/call ÷ PySOA",
            "2x4 ÷ floor",
            "2x4 ÷ PySOA",
            "job actions/s ÷ PySOA",
            "parallel p50 ÷ floor",
            "parallel p50 ÷ PySOA",
        ],
        rows,
    )
    out.append("")
    if unavailable:
        out.append("Not measured in this run:")
        out.append("")
        out += [f"- {name}: {reason}" for name, reason in sorted(unavailable.items())]
        out.append("")
    if summary.errors:
        out.append("Failures:")
        out.append("")
        for error in summary.errors:
            first = str(error.get("error", "")).splitlines()[0] if error.get("error") else ""
            out.append(f"- rep {error.get('rep')}, {error.get('target')} {error.get('scenario') or ''}: {first}")
        out.append("")
    return "\n".join(out)


def _loads(values: Any) -> str:
    if not values:
        return "?"
    return "/".join(f"{value:.2f}" for value in values)
