"""Settings for the example service.

``SOA_SERVER_SETTINGS`` uses Redis (the production transport); ``REDIS_URL`` picks the Redis
server (default ``redis://127.0.0.1:6379/0``). With ``SOA_TRANSPORT=zmq`` it uses ZeroMQ instead,
with no broker: ``ZMQ_ENDPOINT`` is the endpoint (default ``ipc:///tmp/example-service.sock``).
``client_routing`` lets ``call_service`` call this same service, so run two or more workers
(``-f 2``): a single worker would be busy in ``call_service`` while its own call waits for a worker,
and warns about that at start-up.
"""

from __future__ import annotations

import os
from typing import Any


def transport_settings(transport: str, server: bool = False) -> dict[str, Any]:
    """The transport setting (from the environment) for the service's workers or for its callers."""
    if transport == "zmq":
        kwargs: dict[str, Any] = {"endpoint": os.environ.get("ZMQ_ENDPOINT", "ipc:///tmp/example-service.sock")}
        if server:
            # The router the first worker starts exits soon after the last worker stops.
            kwargs["router_idle_exit_in_seconds"] = 2
        return {"name": "zmq", "kwargs": kwargs}
    return {"name": "redis", "kwargs": {"url": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}}


_transport_name = os.environ.get("SOA_TRANSPORT", "redis")

SOA_SERVER_SETTINGS: dict[str, Any] = {
    "transport": transport_settings(_transport_name, server=True),
    "client_routing": {"example": {"transport": transport_settings(_transport_name)}},
    "harakiri": {"timeout": 30, "shutdown_grace": 5},
    "heartbeat_file": None,
    "logging": {
        "version": 1,
        "formatters": {"console": {"format": "%(asctime)s %(levelname)7s %(process)d %(name)s: %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "console", "level": "INFO"}},
        "loggers": {"pysoa.server.job": {"level": "WARNING"}},
        "root": {"handlers": ["console"], "level": "INFO"},
        "disable_existing_loggers": False,
    },
}


def local_settings() -> dict[str, Any]:
    """Settings for running the service in-process over the local transport (tests, the demo)."""
    from example_service.server import Server

    local = {"name": "local", "kwargs": {"server_class": Server, "server_settings": {}}}
    return {"transport": "local", "client_routing": {"example": {"transport": local}}}
