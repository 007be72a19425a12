"""Which Redis host holds which queue, with PySOA's placement rules (docs/protocol.md, section 2). No I/O.

Request queues are spread round-robin: every send and every server receive moves to the next host
of a random permutation, so load spreads evenly. A reply queue lives on one fixed host computed from
its key, so the server knows where the client is listening. Client and server must list the hosts
in the same order.
"""

from __future__ import annotations

import os
import random
import threading
import zlib
from typing import Final

__all__ = ["RoundRobin", "is_reply_queue_key", "reply_queue_host_index"]

_RING_SIZE: Final = 4096


def is_reply_queue_key(key: str) -> bool:
    """A key containing ``!`` is a reply queue (fixed host); anything else is a request queue."""
    return "!" in key


def reply_queue_host_index(full_key: str, host_count: int) -> int:
    """``floor((crc32(utf8(full_key)) & 0xFFF) / (4096 / N))``; ``full_key`` includes ``pysoa:``."""
    if host_count < 1:
        raise ValueError("host_count must be at least 1")
    slot = zlib.crc32(full_key.encode("utf-8")) & (_RING_SIZE - 1)
    # Same arithmetic as PySOA (float division then floor) so both pick the same host for every key.
    return min(int(slot / (_RING_SIZE / host_count)), host_count - 1)


class RoundRobin:
    """Cycles through ``0..N-1`` in a random order; thread-safe.

    A process forked after creation draws its own order, so forked workers do not all start on
    the same host.
    """

    __slots__ = ("_lock", "_order", "_pid", "_position", "_rng")

    def __init__(self, host_count: int, rng: random.Random | None = None) -> None:
        if host_count < 1:
            raise ValueError("host_count must be at least 1")
        self._rng = rng
        self._order = list(range(host_count))
        self._lock = threading.Lock()
        self._shuffle()

    def _shuffle(self) -> None:
        (self._rng or random).shuffle(self._order)
        self._position = 0
        self._pid = os.getpid()

    @property
    def order(self) -> tuple[int, ...]:
        return tuple(self._order)

    def next(self) -> int:
        if len(self._order) == 1:
            return 0
        with self._lock:
            if self._pid != os.getpid():
                self._shuffle()
            index = self._order[self._position]
            self._position = (self._position + 1) % len(self._order)
        return index
