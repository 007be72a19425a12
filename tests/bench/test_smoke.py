"""The benchmark's smoke mode runs every target end to end (a couple of calls each) and checks it produced numbers.

Timings are never judged here; `make bench` measures them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench._scenarios import SCENARIOS
from bench._targets import ALL_TARGETS

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.interop, pytest.mark.bench_envs]


def _zmq_transport_installed() -> bool:
    try:
        from pysoa.plugins import get_plugin_manager

        return "zmq" in get_plugin_manager().transports()
    except Exception:
        return False


@pytest.mark.usefixtures("bench_envs_ready")
def test_smoke_mode_runs_every_target_and_scenario(tmp_path: Path) -> None:
    # soa-zmq is measured as soon as its transport is installed; until then the run says why it was skipped.
    allow_missing = [] if _zmq_transport_installed() else ["--allow-missing", "soa-zmq,soa-zmq-direct"]
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path), *allow_missing],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        # A watchdog against a hung run, not a speed check: every target's processes start and stop in
        # turn, which took 94-124 s on a loaded 2-core machine.
        timeout=300,
        env=dict(os.environ),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    measured = {(r["target"], r["scenario"]) for r in records if r["type"] == "measurement"}
    run = next(r for r in records if r["type"] == "run")
    skipped = set(next(r for r in records if r["type"] == "summary")["unavailable"])
    assert skipped <= ({"soa-zmq", "soa-zmq-direct"} if allow_missing else set())
    expected = {
        (target.name, scenario.name)
        for target in ALL_TARGETS
        if target.name not in skipped
        for scenario in SCENARIOS
        if scenario.name in target.scenarios
    }
    assert measured == expected
    assert run["machine"]["nproc"] >= 1
    assert len(run["loadavg_before"]) == 3


@pytest.mark.usefixtures("bench_envs_ready")
def test_smoke_mode_writes_the_markdown_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--targets", "soa-local,pysoa149-local", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = (tmp_path / "RESULTS.md").read_text()
    assert "local `call_action` (serialized)" in report
    assert "| soa-local (soa-core / local (serialized)) |" in report
    assert "Machine load:" in report
    assert done.stdout.strip() in report
