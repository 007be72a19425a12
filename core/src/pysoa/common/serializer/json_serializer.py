"""PySOA's ``pysoa.common.serializer.json_serializer`` path, served by the soa-json plugin."""

from __future__ import annotations

from typing import Any

__all__ = ["JSONSerializer"]  # noqa: F822  (served lazily by __getattr__)


def __getattr__(name: str) -> Any:
    if name == "JSONSerializer":
        try:
            from soa_json.serializer import JSONSerializer
        except ImportError as exc:
            raise ImportError("JSONSerializer is provided by the soa-json plugin: pip install soa-json") from exc
        return JSONSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
