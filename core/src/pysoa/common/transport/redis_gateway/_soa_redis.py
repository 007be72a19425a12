"""Load a name from the soa-redis plugin on first use, with the install hint when the plugin is missing.

The PySOA-path modules under ``pysoa.common.transport.redis_gateway`` call this from their module ``__getattr__``,
so importing them (from settings modules, say) never imports Redis.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["load_from_soa_redis"]


def load_from_soa_redis(module: str, name: str, attribute: str | None = None) -> Any:
    """``soa_redis.<module>.<attribute or name>``; :class:`ImportError` naming ``name`` if soa-redis is missing."""
    try:
        source = importlib.import_module(f"soa_redis.{module}")
    except ImportError as exc:
        raise ImportError(f"{name} is provided by the soa-redis plugin: pip install soa-redis") from exc
    return getattr(source, attribute or name)
