"""The report turns per-repetition records into medians, ratios within the run and goal statuses."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from bench._cli import _sections_after_latest_run
from bench._report import GOALS, markdown, summarize


def _workload_common() -> ModuleType:
    # The workload programs run as scripts under several interpreters; load their helper module by path.
    path = Path(__file__).resolve().parents[2] / "bench" / "workloads" / "_wl_common.py"
    spec = importlib.util.spec_from_file_location("bench_wl_common", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_wl = _workload_common()


def _m(target: str, scenario: str, rep: int, **metrics: float) -> dict[str, Any]:
    return {"type": "measurement", "target": target, "scenario": scenario, "rep": rep, **metrics}


def test_medians_are_taken_per_target_and_scenario_over_repetitions() -> None:
    summary = summarize(
        [
            _m("soa-redis", "lat_100B", 1, p50_us=100.0),
            _m("soa-redis", "lat_100B", 2, p50_us=300.0),
            _m("soa-redis", "lat_100B", 3, p50_us=200.0),
            _m("raw-redis", "lat_100B", 1, p50_us=50.0),
        ]
    )
    assert summary.value("soa-redis", "lat_100B", "p50_us") == 200.0
    assert summary.repetitions == 3
    assert summary.ratio("soa-redis", "raw-redis", "lat_100B", "p50_us") == 4.0


def test_ratios_per_repetition_pair_measurements_of_the_same_repetition() -> None:
    summary = summarize(
        [
            _m("soa-redis", "lat_100B", 1, p50_us=100.0),
            _m("soa-redis", "lat_100B", 2, p50_us=300.0),
            _m("raw-redis", "lat_100B", 1, p50_us=50.0),
            _m("raw-redis", "lat_100B", 2, p50_us=200.0),
        ]
    )
    assert summary.rep_ratios("soa-redis", "raw-redis", "lat_100B", "p50_us") == [2.0, 1.5]


def test_goals_are_met_missed_or_not_measured() -> None:
    summary = summarize(
        [
            _m("soa-redis", "lat_100B", 1, p50_us=140.0, cpu_per_action_us=200.0),
            _m("raw-redis-lean", "lat_100B", 1, p50_us=100.0, cpu_per_action_us=100.0),
        ]
    )
    rows = {row["goal"]: row for row in summary.goal_rows()}
    assert len(rows) == len(GOALS)
    assert rows["Redis `call_action` p50 ≤ 1.5x lean floor"]["status"] == "met"
    assert rows["CPU per call, all processes, sequential ≤ 1.5x lean floor"]["status"] == "MISSED"
    assert rows["job of 20 actions ≥ 2x PySOA 1.4.9 actions/s"]["status"] == "n/a"


def test_a_higher_is_better_goal_needs_at_least_its_bound() -> None:
    records = [
        _m("soa-redis", "job_20", 1, actions_per_s=2000.0),
        _m("pysoa149-redis", "job_20", 1, actions_per_s=1000.0),
    ]
    rows = {row["goal"]: row for row in summarize(records).goal_rows()}
    assert rows["job of 20 actions ≥ 2x PySOA 1.4.9 actions/s"]["status"] == "met"


def test_the_async_targets_are_compared_with_threads_and_with_faststream() -> None:
    records = [
        _m("soa-redis", "conc_100", 1, actions_per_s=4000.0, p50_us=25_000.0, cpu_per_action_us=300.0),
        _m("soa-redis-async", "conc_100", 1, actions_per_s=6000.0, p50_us=16_000.0, cpu_per_action_us=200.0),
        _m("faststream-redis", "conc_100", 1, actions_per_s=3000.0, p50_us=33_000.0, cpu_per_action_us=400.0),
    ]
    summary = summarize(records)
    rows = {row["goal"]: row for row in summary.goal_rows()}
    threads = rows["100 calls in flight: AsyncClient calls/s ≥ 1x the sync client with 100 threads"]
    assert (threads["ratio"], threads["status"]) == (1.5, "met")
    faststream = rows["100 calls in flight: AsyncClient calls/s ≥ 1x FastStream's Redis request/reply"]
    assert (faststream["ratio"], faststream["status"]) == (2.0, "met")
    assert rows["100 calls in flight: AsyncClient CPU per call ≤ 1x FastStream's, all processes"]["ratio"] == 0.5
    text = markdown(summary, {"machine": {"nproc": 2}}, {}, "make bench")
    row = "| soa-redis-async (soa-core / Redis, AsyncClient (redis.asyncio)) | 16.00 | 6,000 | 200.0 |"
    assert row + " 1.50x | 2.00x | 0.50x |" in text


def test_markdown_lists_failures_and_targets_not_measured() -> None:
    records = [
        _m("soa-local", "lat_100B", 1, p50_us=30.0, mean_us=35.0),
        {"type": "error", "target": "pyro5", "scenario": "lat_1MB", "rep": 1, "error": "pyro5-client1: boom\nmore"},
    ]
    text = markdown(summarize(records), {"machine": {"nproc": 2}}, {"soa-zmq": "not installed"}, "make bench")
    assert "- soa-zmq: not installed" in text
    assert "- rep 1, pyro5 lat_1MB: pyro5-client1: boom" in text
    assert "| soa-local (soa-core / local (serialized)) | 30.0 |" in text


def test_percentiles_use_the_nearest_rank() -> None:
    samples = [float(i) for i in range(1, 101)]
    result = _wl.percentiles(samples)
    assert (result["p50"], result["p90"], result["p99"], result["max"]) == (50.0, 90.0, 99.0, 100.0)


def test_bodies_have_about_the_requested_encoded_size() -> None:
    import msgpack

    for size in (100, 10 * 1024, 1024 * 1024):
        assert abs(len(msgpack.packb(_wl.make_body(size))) - size) <= 8


def test_a_new_run_keeps_the_sections_written_after_its_tables() -> None:
    previous = (
        "# Benchmark results\n\npreamble\n\n## Latest run\n\nold tables\n\n### Goals\n\nold goals\n\n"
        "## What remains per call\n\nprofile\n\n## Redis capacity\n\ncapacity\n"
    )
    kept = _sections_after_latest_run(previous)
    assert kept == "\n## What remains per call\n\nprofile\n\n## Redis capacity\n\ncapacity\n"
    assert _sections_after_latest_run("# Benchmark results\n\n## Latest run\n\ntables only\n") == ""
    assert _sections_after_latest_run("") == ""
