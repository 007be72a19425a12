"""Runs a soa-core workload program with the OpenTelemetry SDK set up, for the ``*-otel`` targets.

    python otel_sdk.py pysoa_service.py '<settings>'      # or pysoa_client.py

A tracer provider with a batch span processor (what a deployment uses) feeding an exporter that
discards the spans, and a meter provider with an in-memory reader that nobody collects: every span
and every metric update of soa-otel is made and processed, nothing leaves the process, so the
figures are soa-otel's and the SDK's own cost, not an exporter's or a collector's.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class DiscardingSpanExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def main() -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DiscardingSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
