"""A server worker with the OpenTelemetry SDK: ``python -m tests.otel.worker CLASS_PATH SETTINGS_JSON SPAN_FILE``.

Sets up a global tracer provider whose spans are appended to SPAN_FILE as JSON lines (one span a
line, written as each span ends), so the test process can read the worker's spans. With
``SOA_TEST_METRICS_DIR`` set, its metrics are exported there too (soa_otel.prometheus's worker files,
read back with ``collect``). Prints ``READY`` once the server is set up, then serves until SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from pysoa.common.settings import resolve_python_path


class JSONLinesSpanExporter(SpanExporter):
    """Appends each span as one JSON line: ids in hex, parent id, name, kind, attributes, status."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            context = span.get_span_context()
            assert context is not None
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "kind": span.kind.name,
                        "trace_id": format(context.trace_id, "032x"),
                        "span_id": format(context.span_id, "016x"),
                        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                        "attributes": dict(span.attributes or {}),
                        "status": span.status.status_code.name,
                        "service": span.resource.attributes.get("service.name"),
                    },
                    default=list,
                )
            )
        with self.lock, self.path.open("a") as out:
            out.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS


def main() -> None:
    server_class = resolve_python_path(sys.argv[1])
    settings = json.loads(sys.argv[2])
    provider = TracerProvider(resource=Resource.create({"service.name": server_class.service_name}))
    provider.add_span_processor(SimpleSpanProcessor(JSONLinesSpanExporter(Path(sys.argv[3]))))
    trace.set_tracer_provider(provider)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    metrics_directory = os.environ.get("SOA_TEST_METRICS_DIR")
    if metrics_directory:
        from soa_otel.prometheus import export_worker_metrics

        export_worker_metrics(metrics_directory, interval=0.2)

    class Worker(server_class):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            super().setup()
            print("READY", flush=True)

    Worker(settings).run()


if __name__ == "__main__":
    main()
