"""soa-core's own plugins, registered through the same hook as everyone else's."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.serializer.base import Serializer
from pysoa.plugins._markers import hookimpl

__all__ = ["pysoa_register_serializers"]


@hookimpl
def pysoa_register_serializers() -> Sequence[type[Serializer]]:
    # Imported here, not at module level, so that registering the built-ins costs nothing until
    # the first lookup.
    from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer

    return [MsgpackSerializer]
