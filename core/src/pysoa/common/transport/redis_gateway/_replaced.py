"""The error for PySOA's Redis transport internals, which soa-core replaced rather than kept."""

from __future__ import annotations

__all__ = ["replaced_by_soa_redis"]


def replaced_by_soa_redis(module: str, name: str) -> ImportError:
    """The :class:`ImportError` for ``from <module> import <name>``, saying what replaces it."""
    return ImportError(
        f"cannot import name {name!r} from {module!r}: PySOA's Redis connection and transport internals are not "
        "part of soa-core. The soa-redis plugin manages Redis connections itself: set hosts, Sentinel and "
        "connection options in the transport settings and use RedisClientTransport / RedisServerTransport "
        "(see 'Module paths' in the migration guide)"
    )
