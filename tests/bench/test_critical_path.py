"""``python -m bench.critical_path``: callgrind's dumps at the socket turned into a call's phases."""

from __future__ import annotations

from pathlib import Path

from bench.critical_path import PHASES, per_phase, read_dumps


def dump(folder: Path, number: int, trigger: str, total: int) -> None:
    (folder / f"client.out.{number}").write_bytes(
        f"version: 1\ndesc: Trigger: {trigger}\nevents: Ir\nfn=(1) main\n3 7\ntotals: {total}\n".encode()
    )


def test_dumps_are_read_in_their_order_with_their_trigger(tmp_path: Path) -> None:
    dump(tmp_path, 10, "--dump-before=sock_send", 5)
    dump(tmp_path, 2, "--dump-after=sock_recv_into", 7)
    dump(tmp_path, 1, "--dump-before=math_ulp", 3)
    assert read_dumps(tmp_path, "client.out") == [
        ("--dump-before=math_ulp", 3),
        ("--dump-after=sock_recv_into", 7),
        ("--dump-before=sock_send", 5),
    ]


def test_each_interval_counts_for_the_phase_its_end_closes() -> None:
    # Two calls: each sends, reads the push's replies, reads the reply, returns; then the program ends.
    one_call = [
        ("--dump-before=sock_send", 70),
        ("--dump-after=sock_recv_into", 10),
        ("--dump-after=sock_recv_into", 30),
        ("--dump-before=math_ulp", 60),
    ]
    phases = per_phase([*one_call, *one_call, ("Program termination", 999)], calls=2)
    assert list(phases) == list(PHASES)
    assert phases == {"reply read -> returned": 60.0, "returned -> request written": 70.0, "overlapped": 40.0}
