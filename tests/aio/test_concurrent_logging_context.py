"""Jobs running at once keep their own logging context (request id, correlation id, action): contextvars."""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from pysoa.client import AsyncClient
from pysoa.common.logging import PySOALogContextFilter
from pysoa.server import Server

LOGGER = logging.getLogger("tests.aio.concurrent")


async def log_after_a_nap(request: Any) -> dict[str, Any]:
    await asyncio.sleep(random.uniform(0, 0.05))  # interleave the jobs
    LOGGER.warning("mine is %s", request.context["correlation_id"])
    return {}


class LoggingServer(Server):
    service_name = "logging_service"
    action_class_map = {"log_after_a_nap": log_after_a_nap}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(PySOALogContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_each_concurrent_job_logs_with_its_own_context() -> None:
    routing = {
        "logging_service": {
            "transport": {"name": "local", "kwargs": {"server_class": LoggingServer, "server_settings": {}}}
        }
    }
    handler = _Collect()
    LOGGER.addHandler(handler)
    try:

        async def main() -> None:
            client = AsyncClient(routing)
            await asyncio.gather(
                *(
                    client.call_action("logging_service", "log_after_a_nap", correlation_id=f"cid-{n}")
                    for n in range(20)
                )
            )

        asyncio.run(main())
    finally:
        LOGGER.removeHandler(handler)
    assert len(handler.records) == 20
    for record in handler.records:
        assert record.getMessage() == f"mine is {record.correlation_id}"  # type: ignore[attr-defined]
        assert record.action_name == "log_after_a_nap"  # type: ignore[attr-defined]
    assert len({record.request_id for record in handler.records}) == 20  # type: ignore[attr-defined]
