"""``OTelMetricsRecorder``: soa-core's ``metrics`` setting, recorded as one OpenTelemetry counter.

soa-core and its transports count rare events through the ``metrics`` setting (a malformed
request, a full Redis queue, a message too large, a ZeroMQ send timeout). With::

    "metrics": {"path": "soa_otel.metrics:OTelMetricsRecorder"}

each of them becomes an increment of the counter ``soa.events``, with the event's name in the
attribute ``soa.event`` (``transport.redis.client.send.queue_full``, ``server.error.malformed_request``):
a fixed set of names, so a low-cardinality attribute. Works in client and server settings.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics

from pysoa.version import __version__

__all__ = ["OTelMetricsRecorder"]


class _EventCounter:
    __slots__ = ("_attributes", "_counter")

    def __init__(self, counter: metrics.Counter, attributes: dict[str, str]) -> None:
        self._counter = counter
        self._attributes = attributes

    def increment(self, amount: int = 1) -> None:
        self._counter.add(amount, self._attributes)


class OTelMetricsRecorder:
    """A soa-core metrics recorder (``counter(name).increment()``) writing to OpenTelemetry's global meter."""

    def __init__(self, **kwargs: Any) -> None:
        meter = metrics.get_meter("soa_otel", __version__)
        self._counter = meter.create_counter(
            "soa.events", unit="{event}", description="Events soa-core and its transports count, by name"
        )

    def counter(self, name: str, **tags: Any) -> _EventCounter:
        attributes = {"soa.event": name}
        attributes.update((f"soa.{key}", str(value)) for key, value in tags.items())
        return _EventCounter(self._counter, attributes)

    def publish_all(self) -> None:
        return None
