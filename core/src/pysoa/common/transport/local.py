"""PySOA's ``pysoa.common.transport.local`` path, served by the soa-local plugin.

Settings written for PySOA (``{'path': 'pysoa.common.transport.local:LocalClientTransport'}``)
keep working when soa-local is installed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalClientTransport", "LocalServerTransport"]  # noqa: F822  (served lazily by __getattr__)


def __getattr__(name: str) -> Any:
    if name in __all__:
        try:
            from soa_local import transport
        except ImportError as exc:
            raise ImportError(f"{name} is provided by the soa-local plugin: pip install soa-local") from exc
        return getattr(transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
