"""Registers the JSON serializer with soa-core."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.serializer.base import Serializer
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_serializers() -> Sequence[type[Serializer]]:
    from soa_json.serializer import JSONSerializer

    return [JSONSerializer]
