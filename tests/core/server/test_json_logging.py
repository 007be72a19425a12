"""The JSON log formatter: context fields on every line, and redaction exactly as in text logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import pysoa.common.logging as pysoa_logging
from pysoa.client import Client
from pysoa.common.json_logging import JSONFormatter
from pysoa.server import Server
from pysoa.server.types import EnrichedActionRequest

SECRET = "hunter2-do-not-log"


def chatty(request: EnrichedActionRequest) -> dict[str, Any]:
    logging.getLogger("tests.json_logging.action").info(
        "working on %s", request.body.get("what"), extra={"api_key": SECRET, "attempt": 2}
    )
    return {"ok": True}


class ChattyServer(Server):
    service_name = "json_logging"
    action_class_map = {"chatty": chatty}


class Records(logging.Handler):
    """Formats each record as it is emitted (while the request's logging context is set), as JSON and as text."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JSONFormatter())
        self.text = logging.Formatter("%(message)s")
        self.lines: list[str] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.texts.append(self.text.format(record))


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("pysoa.server.job", "tests.json_logging")]
    previous_service = pysoa_logging._service_name
    pysoa_logging.PySOALogContextFilter.set_service_name(ChattyServer.service_name)
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
        pysoa_logging.PySOALogContextFilter.set_service_name(previous_service)


def call(body: dict[str, Any]) -> Any:
    kwargs = {"server_class": ChattyServer, "server_settings": {"request_log_success_level": "INFO"}}
    client = Client({ChattyServer.service_name: {"transport": {"name": "local", "kwargs": kwargs}}})
    return client.call_action(ChattyServer.service_name, "chatty", body, correlation_id="corr-1", timeout=10)


def test_every_line_carries_the_request_context(records: Records) -> None:
    call({"what": "the thing"})
    lines = [json.loads(line) for line in records.lines]
    assert [line["message"].split(":")[0] for line in lines] == ["Job request", "working on the thing", "Job response"]
    for line in lines:
        assert line["correlation_id"] == "corr-1"
        assert line["request_id"] not in (None, "--")
        assert line["service"] == "json_logging"
        assert line["level"] == "INFO"
        assert line["time"].endswith("+00:00")
    assert lines[1]["action"] == "chatty"
    assert lines[1]["logger"] == "tests.json_logging.action"
    assert "trace_id" not in lines[1] or lines[1]["trace_id"]  # only with OpenTelemetry in use


def test_redaction_is_the_text_logs_own(records: Records) -> None:
    call({"what": "login", "password": SECRET, "nested": {"token": SECRET, "note": "visible"}})
    assert len(records.lines) == 3
    for formatted, text in zip(records.lines, records.texts, strict=True):
        assert SECRET not in formatted
        # The message is the text formatter's message, censored by the same helper.
        assert json.loads(formatted)["message"] == text
    request_line = json.loads(records.lines[0])
    assert "visible" in request_line["message"]
    assert "**********" in request_line["message"]
    action_line = json.loads(records.lines[1])
    assert action_line["extra"] == {"api_key": "**********", "attempt": 2}


def test_extra_fields_to_redact_adds_names_and_exceptions_are_kept() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
    record.customer_code = "c-42"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JSONFormatter(extra_fields_to_redact=["customer_code"]).format(record))
    assert line["extra"] == {"customer_code": "**********"}
    assert line["message"] == "failed here"
    assert "ValueError: boom" in line["exception"]
    assert line["correlation_id"] == "--"  # no request: the context filter's placeholder


def test_dictconfig_builds_it_by_path() -> None:
    import logging.config

    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"json": {"()": "pysoa.common.json_logging.JSONFormatter"}},
            "handlers": {"null": {"class": "logging.NullHandler", "formatter": "json"}},
            "loggers": {"tests.json_logging.dictconfig": {"handlers": ["null"]}},
        }
    )
    handler = logging.getLogger("tests.json_logging.dictconfig").handlers[0]
    assert isinstance(handler.formatter, JSONFormatter)
    logging.getLogger("tests.json_logging.dictconfig").handlers.clear()
