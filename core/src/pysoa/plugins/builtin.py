"""soa-core's own plugins, registered through the same hooks as everyone else's."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.serializer.base import Serializer
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_serializers() -> Sequence[type[Serializer]]:
    from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer

    return [MsgpackSerializer]
