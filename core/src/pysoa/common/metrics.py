"""A minimal metrics interface, shaped like PyMetrics' ``MetricsRecorder``.

soa-core records only a handful of counters (errors, malformed messages) off the hot path. A
PyMetrics recorder configured in the ``metrics`` setting is used as is: it has these methods.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

__all__ = ["CountingMetricsRecorder", "MetricsRecorder", "NoOpMetricsRecorder"]


class _Counter(Protocol):
    def increment(self, amount: int = 1) -> Any: ...


class MetricsRecorder(Protocol):
    def counter(self, name: str, **tags: Any) -> _Counter: ...

    def publish_all(self) -> None: ...


class _NoOpCounter:
    __slots__ = ()

    def increment(self, amount: int = 1) -> None:
        return None


_NOOP_COUNTER = _NoOpCounter()


class NoOpMetricsRecorder:
    """Discards everything (PySOA's default)."""

    def __init__(self, **kwargs: Any) -> None:
        pass

    def counter(self, name: str, **tags: Any) -> _NoOpCounter:
        return _NOOP_COUNTER

    def publish_all(self) -> None:
        return None


class _CountingCounter:
    __slots__ = ("_counts", "_name")

    def __init__(self, counts: Counter[str], name: str) -> None:
        self._counts = counts
        self._name = name

    def increment(self, amount: int = 1) -> None:
        self._counts[self._name] += amount


class CountingMetricsRecorder:
    """Keeps counters in memory (``counts``), for tests and the ``status`` action's diagnostics."""

    def __init__(self, **kwargs: Any) -> None:
        self.counts: Counter[str] = Counter()

    def counter(self, name: str, **tags: Any) -> _CountingCounter:
        return _CountingCounter(self.counts, name)

    def publish_all(self) -> None:
        return None
