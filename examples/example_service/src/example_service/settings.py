"""Settings for the example service.

``SOA_SERVER_SETTINGS`` uses Redis (the production transport). ``REDIS_URL`` picks the Redis
server (default ``redis://127.0.0.1:6379/0``). ``client_routing`` lets ``call_service`` call
this same service.
"""

from __future__ import annotations

import os
from typing import Any

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

_redis = {"name": "redis", "kwargs": {"url": REDIS_URL}}

SOA_SERVER_SETTINGS: dict[str, Any] = {
    "transport": _redis,
    "client_routing": {"example": {"transport": _redis}},
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
