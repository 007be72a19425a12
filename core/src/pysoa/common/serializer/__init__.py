"""Serializers: the :class:`Serializer` contract and the built-in MessagePack serializer.

``JSONSerializer`` (PySOA's import path ``pysoa.common.serializer:JSONSerializer``) lives in the
``soa-json`` plugin; importing it from here works when that plugin is installed.
"""

from __future__ import annotations

from typing import Any

from pysoa.common.serializer.base import Serializer

__all__ = ["JSONSerializer", "MsgpackSerializer", "Serializer"]


def __getattr__(name: str) -> Any:
    # Imported on first use: keeps ``import pysoa`` light, and soa-json optional.
    if name == "MsgpackSerializer":
        from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer

        return MsgpackSerializer
    if name == "JSONSerializer":
        try:
            from soa_json.serializer import JSONSerializer
        except ImportError as exc:
            raise ImportError("JSONSerializer needs the soa-json plugin: pip install soa-json") from exc
        return JSONSerializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
