"""A service run by ``soa serve --workers 2`` for the Prometheus test, configured through the environment.

``SOA_TEST_REDIS_URL``: the Redis to serve on; ``SOA_TEST_METRICS_DIR`` and ``SOA_TEST_METRICS_PORT``:
where the workers write their metrics and where the supervisor's endpoint serves them. This is the
set-up docs/observability.md describes: the endpoint started in ``pre_fork``, each worker's
exporter in ``setup``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pysoa.server.types import EnrichedActionRequest
from soa_otel.prometheus import export_worker_metrics, start_metrics_endpoint

from .services import BackServer

SERVICE = "otel_metered"


def sleep(request: EnrichedActionRequest) -> dict[str, Any]:
    time.sleep(float(request.body["seconds"]))
    return {"pid": os.getpid()}


class MeteredServer(BackServer):
    service_name = SERVICE
    action_class_map = {**BackServer.action_class_map, "sleep": sleep}

    @classmethod
    def pre_fork(cls) -> None:
        super().pre_fork()
        start_metrics_endpoint(os.environ["SOA_TEST_METRICS_DIR"], int(os.environ["SOA_TEST_METRICS_PORT"]))

    def setup(self) -> None:
        super().setup()
        export_worker_metrics(os.environ["SOA_TEST_METRICS_DIR"], interval=0.2)


SOA_SERVER_SETTINGS = {
    "transport": {
        "name": "redis",
        "kwargs": {"url": os.environ.get("SOA_TEST_REDIS_URL", ""), "receive_timeout_in_seconds": 1},
    },
    "middleware": ["otel"],
    "harakiri": {"timeout": 0, "shutdown_grace": 5},
}
