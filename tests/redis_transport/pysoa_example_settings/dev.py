"""Development settings: one standard Redis from the Docker-link variables, and client routing to the service itself."""

from __future__ import annotations

import os

from pysoa.common.transport.redis_gateway.constants import REDIS_BACKEND_TYPE_STANDARD

from .base import SOA_SERVER_SETTINGS

SOA_SERVER_SETTINGS["transport"]["kwargs"] = {
    "backend_type": REDIS_BACKEND_TYPE_STANDARD,
    "backend_layer_kwargs": {
        "hosts": [
            (os.environ["REDIS_PORT_6379_TCP_ADDR"], int(os.environ["REDIS_PORT_6379_TCP_PORT"])),
        ],
    },
}

SOA_SERVER_SETTINGS["client_routing"] = {
    "example": {
        "transport": {
            "path": "pysoa.common.transport.redis_gateway.client:RedisClientTransport",
            "kwargs": SOA_SERVER_SETTINGS["transport"]["kwargs"],
        },
    },
}
