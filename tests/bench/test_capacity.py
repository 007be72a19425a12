"""The Redis capacity bench measures Redis-side CPU per call and spreads three services over three cluster masters.

Timings are never judged here; ``python -m bench.capacity`` measures them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from redis.crc import key_slot

from bench.capacity import SETUPS, run_setup, service_names, table, write_results
from tests.redis_transport.cluster_servers import SLOTS

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_each_service_queue_falls_in_its_own_third_of_the_slots() -> None:
    thirds = [key_slot(f"pysoa:service.{name}".encode()) * 3 // SLOTS for name in service_names()]
    assert thirds == [0, 1, 2]


def test_a_three_master_run_loads_every_master_and_reports_it() -> None:
    setup = next(setup for setup in SETUPS if setup.name == "soa-redis-cluster-3")
    record = run_setup(setup, {"soa": sys.executable}, 0.3, lambda _message: None)
    assert record["calls"] > 0
    assert record["redis_cpu_per_call_us"] > 0
    # Each master holds one service's request queue, so each did part of the work.
    assert len(record["master_shares"]) == 3
    assert all(share > 0 for share in record["master_shares"])
    # Two pushes through the script (EVALSHA + LLEN, RPUSH, EXPIRE, TIME) and two BLPOPs per call.
    assert 11.5 < record["redis_commands_per_call"] < 13
    assert "Redis Cluster of 3 masters" in table([record])


def test_the_results_section_replaces_the_one_of_an_earlier_run(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Latest run\n\ntable\n")
    write_results("## Redis capacity\n\nfirst\n", results)
    write_results("## Redis capacity\n\nsecond\n", results)
    assert results.read_text() == "# Benchmark results\n\n## Latest run\n\ntable\n\n## Redis capacity\n\nsecond\n"
