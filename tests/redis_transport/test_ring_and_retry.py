"""Host placement (round-robin and crc32 ring) and deadline-bounded backoff (no Redis needed)."""

from __future__ import annotations

import os
import random
import zlib

import pytest

from soa_redis._retry import LAST_ATTEMPT_SECONDS, backoff_delay, next_delay
from soa_redis._ring import RoundRobin, is_reply_queue_key, reply_queue_host_index


def test_reply_queues_are_told_apart_by_the_bang() -> None:
    assert is_reply_queue_key("pysoa:service.echo.0123!7f00")
    assert not is_reply_queue_key("pysoa:service.echo")


def _slot(key: str) -> int:
    return zlib.crc32(key.encode()) & 0xFFF


def _key_in_slot(wanted: int) -> str:
    for number in range(200_000):
        key = f"pysoa:service.s.{number:032x}!00007f0000aa"
        if _slot(key) == wanted:
            return key
    raise AssertionError(f"no key found for slot {wanted}")


@pytest.mark.parametrize(
    ("slot", "hosts", "index"),
    [
        (0, 2, 0),
        (2047, 2, 0),
        (2048, 2, 1),
        (4095, 2, 1),
        (1365, 3, 0),  # 1365 / 1365.33 < 1
        (1366, 3, 1),
        (2730, 3, 1),  # 2730 / 1365.33 = 1.9995
        (2731, 3, 2),
        (4095, 3, 2),
        (4095, 1, 0),
        (4095, 5000, 4998),  # more hosts than slots: still a valid index
    ],
)
def test_reply_queue_ring_boundaries(slot: int, hosts: int, index: int) -> None:
    # docs/protocol.md: floor((crc32(utf8(full_key)) & 0xFFF) / (4096 / N)).
    assert reply_queue_host_index(_key_in_slot(slot), hosts) == index


def test_the_ring_uses_the_full_key() -> None:
    key = _key_in_slot(10)
    assert _slot(key.removeprefix("pysoa:")) != 10
    assert reply_queue_host_index(key, 2) == 0


def test_the_ring_needs_a_host() -> None:
    with pytest.raises(ValueError):
        reply_queue_host_index("k!1", 0)


def test_round_robin_visits_every_host_once_per_cycle() -> None:
    rr = RoundRobin(5, random.Random(7))
    picks = [rr.next() for _ in range(15)]
    assert sorted(picks[:5]) == [0, 1, 2, 3, 4]
    assert picks[:5] == picks[5:10] == picks[10:] == list(rr.order)


def test_round_robin_orders_differ_between_processes() -> None:
    orders = {RoundRobin(4, random.Random(seed)).order for seed in range(20)}
    assert len(orders) > 1


def test_one_host_is_always_zero() -> None:
    assert {RoundRobin(1).next() for _ in range(3)} == {0}


def test_backoff_is_pysoas() -> None:
    assert [backoff_delay(i, lambda: 0.5) for i in range(4)] == [0.375, 0.625, 1.125, 2.125]


def test_no_retry_after_the_last_one() -> None:
    assert next_delay(2, 2, remaining=100.0) is None
    assert next_delay(1, 2, remaining=100.0) is not None


def test_a_backoff_is_cut_to_leave_one_last_attempt_before_the_deadline() -> None:
    assert next_delay(3, 10, remaining=1.0, rand=lambda: 0.0) == pytest.approx(1.0 - LAST_ATTEMPT_SECONDS)
    assert next_delay(0, 10, remaining=1.0, rand=lambda: 0.0) == 0.25


def test_no_retry_when_no_time_is_left() -> None:
    assert next_delay(0, 10, remaining=LAST_ATTEMPT_SECONDS / 2) is None
    assert next_delay(0, 10, remaining=-1.0) is None


def test_a_forked_process_draws_its_own_order() -> None:
    rr = RoundRobin(6)
    orders = set()
    for _ in range(8):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: report its first six picks
            os.write(write, bytes(rr.next() for _ in range(6)))
            os._exit(0)
        os.waitpid(pid, 0)
        orders.add(tuple(os.read(read, 6)))
        os.close(read)
        os.close(write)
    assert len(orders) > 1
    assert all(sorted(order) == list(range(6)) for order in orders)
