"""``python -m bench.instructions``: callgrind totals turned into instructions per call, process by process."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.instructions import Measurement, _parse, per_call, read_total, table


def test_the_total_is_read_from_the_summary_or_the_totals_line(tmp_path: Path) -> None:
    summary = tmp_path / "a.out"
    summary.write_bytes(b"version: 1\ncmd: python x.py\nevents: Ir\nfn=(1) main\n3 7\nsummary: 123456\n")
    totals = tmp_path / "b.out"
    totals.write_bytes(b"events: Ir\nfn=(1) main\n3 7\ntotals: 98765\n")
    assert read_total(summary) == 123456
    assert read_total(totals) == 98765


def test_a_file_without_totals_is_an_error_naming_it(tmp_path: Path) -> None:
    cut = tmp_path / "cut.out"
    cut.write_bytes(b"events: Ir\nfn=(1) main\n")
    with pytest.raises(ValueError, match=r"cut\.out"):
        read_total(cut)


def test_per_call_is_the_growth_between_the_two_runs_so_start_up_cancels_out() -> None:
    start_up = 40_000_000
    assert per_call(start_up + 100 * 5_000, start_up + 300 * 5_000, (100, 300)) == 5_000.0
    with pytest.raises(ValueError):
        per_call(1, 2, (300, 300))


def test_the_table_puts_each_target_against_the_floor_of_its_transport() -> None:
    rendered = table(
        [
            Measurement("soa-redis", "redis", {"client": 300_000.0, "server": 400_000.0}),
            Measurement("raw-redis-lean", "redis", {"client": 70_000.0, "server": 70_000.0}),
            Measurement("soa-zmq", "zmq", {"client": 160_000.0, "server": 300_000.0, "router": 200_000.0}),
            Measurement("soa-local", "local", {"client": 310_000.0}),
        ]
    ).splitlines()
    assert rendered[2] == "| soa-redis | 300,000 | 400,000 | - | 700,000 | 5.00x |"
    assert rendered[3] == "| raw-redis-lean | 70,000 | 70,000 | - | 140,000 | 1.00x |"
    # raw-zmq was not measured: no ratio rather than a wrong one.
    assert rendered[4] == "| soa-zmq | 160,000 | 300,000 | 200,000 | 660,000 | - |"
    assert rendered[5] == "| soa-local | 310,000 | - | - | 310,000 | - |"


def test_bad_options_are_refused_naming_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["--targets", "soa-redis,nope"], "unknown targets: nope"),
        (["--calls", "400,200"], "more calls than the first"),
        (["--calls", "many"], "two numbers"),
    ):
        with pytest.raises(SystemExit):
            _parse(argv)
        assert message in capsys.readouterr().err
    assert _parse(["--targets", "raw-zmq", "--calls", "10,30"]).calls == (10, 30)
