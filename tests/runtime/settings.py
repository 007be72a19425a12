"""Settings of :mod:`tests.runtime.service`, from the environment the tests give each process.

``RUNTIME_SPOOL`` (the spool directory), ``RUNTIME_HEARTBEAT`` (heartbeat file template, optional),
``RUNTIME_HARAKIRI`` (seconds, default 0 = off), ``RUNTIME_REDIS_URL`` (serve over Redis instead of
the spool), ``RUNTIME_REDIS_KWARGS`` (JSON: any Redis transport settings, e.g. Sentinel, instead of a URL),
``RUNTIME_SELF_ROUTING=1`` (route ``request.client`` calls to this service itself, over a
Redis that is never contacted by these tests).
"""

from __future__ import annotations

import json
import os
from typing import Any

_REDIS_URL = os.environ.get("RUNTIME_REDIS_URL")
_REDIS_KWARGS: dict[str, Any] | None = (
    json.loads(os.environ["RUNTIME_REDIS_KWARGS"]) if "RUNTIME_REDIS_KWARGS" in os.environ
    else {"url": _REDIS_URL} if _REDIS_URL else None
)  # fmt: skip

SOA_SERVER_SETTINGS: dict[str, Any] = {
    "transport": {
        "path": "tests.runtime.spool:SharedSpoolServerTransport",
        "kwargs": {"spool": os.environ.get("RUNTIME_SPOOL", "")},
    }
    if _REDIS_KWARGS is None
    # A short receive timeout: a stopping worker notices sooner (the tests wait for it).
    else {"name": "redis", "kwargs": {"receive_timeout_in_seconds": 1, **_REDIS_KWARGS}},
    "harakiri": {"timeout": int(os.environ.get("RUNTIME_HARAKIRI", "0")), "shutdown_grace": 2},
    "heartbeat_file": os.environ.get("RUNTIME_HEARTBEAT") or None,
    "logging": {
        "version": 1,
        "formatters": {"plain": {"format": "%(levelname)s %(process)d %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {"pysoa.server.job": {"level": "WARNING"}},
        "disable_existing_loggers": False,
    },
}

if os.environ.get("RUNTIME_SELF_ROUTING") == "1":
    # Only then: without client_routing, `soa call --settings` has no client settings here (a tested error).
    SOA_SERVER_SETTINGS["client_routing"] = {
        "runtime": {"transport": {"name": "redis", "kwargs": {"url": "redis://127.0.0.1:1/0"}}}
    }
