"""An optional JSON log formatter: one JSON object per record, for log pipelines.

Configure it like any formatter, e.g. in the server's ``logging`` setting::

    "formatters": {"json": {"()": "pysoa.common.json_logging.JSONFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},

Each line carries ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the request's
``correlation_id`` and ``request_id``, the ``service`` and ``action`` (from
:class:`~pysoa.common.logging.PySOALogContextFilter`, applied here if no handler filter did),
``trace_id``/``span_id`` of the current OpenTelemetry span (when OpenTelemetry is in use, e.g.
with soa-otel; outside a span, the trace id of the request's W3C ``traceparent``), ``exception``
when the record has one, and the record's ``extra`` fields.

Redaction is the text logs' own: ``message`` is the record's message formatted exactly as a text
formatter formats it (the server's job log passes its requests and responses already wrapped in
:class:`~pysoa.common.logging.RecursivelyCensoredDictWrapper`), and ``extra`` fields go through
the same censor (:func:`~pysoa.common.logging.make_censor`, with ``extra_fields_to_redact``).
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

from pysoa.common.logging import PySOALogContextFilter, get_logging_request_context, make_censor

__all__ = ["JSONFormatter"]

# Attributes every LogRecord has (or the context filter adds): not "extra" fields.
_STANDARD_ATTRIBUTES = frozenset(
    set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
    | {"message", "asctime", "correlation_id", "request_id", "service_name", "action_name", "taskName"}
)
_CONTEXT_FILTER = PySOALogContextFilter()


def _trace_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current OpenTelemetry span, else the request's ``traceparent``.

    Never imports OpenTelemetry: a process that does not use it pays nothing. Outside any span (the
    server's job request and response lines) the trace id comes from the W3C ``traceparent`` that
    soa-otel puts in the request context under ``otel``; the span there is the caller's, so only
    the trace id is given.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is not None:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            return {"trace_id": format(span_context.trace_id, "032x"), "span_id": format(span_context.span_id, "016x")}
    carrier = (get_logging_request_context() or {}).get("otel")
    traceparent = carrier.get("traceparent") if isinstance(carrier, dict) else None
    if isinstance(traceparent, str):
        parts = traceparent.split("-")
        if len(parts) >= 4 and len(parts[1]) == 32:
            return {"trace_id": parts[1]}
    return {}


class JSONFormatter(logging.Formatter):
    """Formats each record as one line of JSON (see the module docstring for the keys).

    ``extra_fields_to_redact`` adds field names to censor in ``extra`` fields, like the server
    setting of the same name does for the job log. Values JSON cannot represent are written with
    ``str()``.
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: Any = "%",
        validate: bool = True,
        *,
        extra_fields_to_redact: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(fmt, datefmt, style, validate, **kwargs)
        self._censor = make_censor(extra_fields_to_redact)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "correlation_id"):
            _CONTEXT_FILTER.filter(record)
        document: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
            "request_id": getattr(record, "request_id", None),
            "service": getattr(record, "service_name", None),
            "action": getattr(record, "action_name", None),
        }
        document.update(_trace_ids())
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        extra = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}
        if extra:
            document["extra"] = self._censor(extra)
        return json.dumps(document, default=str, ensure_ascii=False)
