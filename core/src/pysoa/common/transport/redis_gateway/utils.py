"""PySOA's ``pysoa.common.transport.redis_gateway.utils``."""

from __future__ import annotations

__all__ = ["make_redis_queue_name"]


def make_redis_queue_name(service_name: str) -> str:
    """The name of a service's request queue, ``service.<name>`` (its Redis key adds the ``pysoa:`` prefix)."""
    return f"service.{service_name}"
