"""PySOA's ``pysoa.common.transport.redis_gateway.settings``: the Redis transports' settings schemas.

Served by the soa-redis plugin on first use (so importing this module never imports Redis):

* ``RedisTransportSchema``: a schema class, as in PySOA; its instances validate client transport settings exactly as
  ``RedisClientTransport`` does (every PySOA setting, plus soa-redis's ``url``/``urls``/``sentinel`` forms).
* ``RedisServerTransportSchema``: the schema instance for server transport settings.
"""

from __future__ import annotations

import functools
from typing import Any

from conformity import fields

from pysoa.common._schema_class import schema_class
from pysoa.common.transport.redis_gateway._soa_redis import load_from_soa_redis
from pysoa.common.transport.redis_gateway.constants import REDIS_BACKEND_TYPES

__all__ = ["REDIS_BACKEND_TYPES", "RedisServerTransportSchema", "RedisTransportSchema"]  # noqa: F822  (lazy)


@functools.cache
def _client_schema_class() -> type[fields.Dictionary]:
    schema = load_from_soa_redis("_config", "RedisTransportSchema", "CLIENT_SETTINGS_SCHEMA")
    return schema_class("RedisTransportSchema", schema, __name__)


def __getattr__(name: str) -> Any:
    if name == "RedisTransportSchema":
        return _client_schema_class()
    if name == "RedisServerTransportSchema":
        return load_from_soa_redis("_config", name, "SERVER_SETTINGS_SCHEMA")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
