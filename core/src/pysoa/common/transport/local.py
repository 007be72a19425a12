"""PySOA's ``pysoa.common.transport.local`` path, served by the soa-local plugin.

Settings written for PySOA (``{'path': 'pysoa.common.transport.local:LocalClientTransport'}``)
keep working when soa-local is installed. ``LocalClientTransportSchema`` and ``LocalServerTransportSchema`` are the
transports' settings schemas as classes (PySOA's form).
"""

from __future__ import annotations

from typing import Any

__all__ = [  # noqa: F822  (served lazily by __getattr__)
    "LocalClientTransport",
    "LocalClientTransportSchema",
    "LocalServerTransport",
    "LocalServerTransportSchema",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        try:
            from soa_local import transport
        except ImportError as exc:
            raise ImportError(f"{name} is provided by the soa-local plugin: pip install soa-local") from exc
        if name.endswith("Schema"):
            from pysoa.common._schema_class import schema_class

            transport_class = getattr(transport, name.removesuffix("Schema"))
            return schema_class(name, transport_class.settings_schema, __name__)
        return getattr(transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
