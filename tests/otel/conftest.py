"""The OpenTelemetry SDK for the soa-otel tests in this process: in-memory span and metric exporters.

OpenTelemetry's global providers can be set once per process, so one session-wide pair serves every
test; ``telemetry`` clears the finished spans before each test. Metrics are cumulative: tests
compare a figure before and after the calls they make.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str, **attributes: Any) -> list[NumberDataPoint | HistogramDataPoint]:
        """The data points of metric ``name`` whose attributes include ``attributes``."""
        found: list[NumberDataPoint | HistogramDataPoint] = []
        data = self.reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != name:
                        continue
                    for point in metric.data.data_points:
                        if all(point.attributes.get(k) == v for k, v in attributes.items()):  # type: ignore[union-attr]
                            found.append(point)  # type: ignore[arg-type]
        return found

    def total(self, name: str, **attributes: Any) -> float:
        """A counter's sum, or a histogram's count, over the matching points."""
        return sum(
            point.count if isinstance(point, HistogramDataPoint) else point.value
            for point in self.points(name, **attributes)
        )


_SESSION: Telemetry | None = None


@pytest.fixture
def telemetry() -> Telemetry:
    global _SESSION
    if _SESSION is None:
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _SESSION = Telemetry(spans, reader)
    _SESSION.spans.clear()
    return _SESSION
