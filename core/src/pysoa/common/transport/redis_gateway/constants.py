"""PySOA's ``pysoa.common.transport.redis_gateway.constants``: backend types, protocol versions, message sizes.

Plain values, importable without Redis or the soa-redis plugin, so settings modules that name a backend type
(``"backend_type": REDIS_BACKEND_TYPE_STANDARD``) load anywhere. The values are PySOA 1.4's, which the wire protocol
and the settings of existing services depend on; soa-redis uses the same ones.
"""

from __future__ import annotations

import enum
import re
from typing import Final

__all__ = [
    "DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT",
    "DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER",
    "MINIMUM_CHUNKED_MESSAGE_BYTES",
    "REDIS_BACKEND_TYPES",
    "REDIS_BACKEND_TYPE_SENTINEL",
    "REDIS_BACKEND_TYPE_STANDARD",
    "ProtocolFeature",
    "ProtocolVersion",
]

REDIS_BACKEND_TYPE_STANDARD: Final = "redis.standard"
REDIS_BACKEND_TYPE_SENTINEL: Final = "redis.sentinel"
REDIS_BACKEND_TYPES: Final = (REDIS_BACKEND_TYPE_STANDARD, REDIS_BACKEND_TYPE_SENTINEL)

# Defaults of ``maximum_message_size_in_bytes`` (and of ``log_messages_larger_than_bytes``).
DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT: Final = 100 * 1024
DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER: Final = 250 * 1024
# The smallest allowed ``chunk_messages_larger_than_bytes``.
MINIMUM_CHUNKED_MESSAGE_BYTES: Final = 100 * 1024

_VERSION_MARKER: Final = re.compile(rb"pysoa-redis/(\d+)//")


class ProtocolVersion(enum.IntEnum):
    """A version of the Redis wire protocol (see the protocol document in the soa-redis plugin)."""

    VERSION_1 = 1  # the bare serialized message
    VERSION_2 = 2  # a ``content-type:<mime>;`` header first
    VERSION_3 = 3  # a ``pysoa-redis/3//`` marker first; allows chunked responses

    @property
    def prefix(self) -> bytes:
        """The version marker that starts a message of this version (``b"pysoa-redis/3//"``)."""
        return b"pysoa-redis/%d//" % self.value

    @staticmethod
    def extract_version(message_data: bytes) -> tuple[ProtocolVersion, bytes]:
        """The version of a received message and the message without its version marker.

        A message with a marker has that version; one starting with ``content-type`` is version 2; anything else
        is version 1. Raises :class:`ValueError` for a marker naming a version this library does not know.
        """
        match = _VERSION_MARKER.match(message_data)
        if match:
            return ProtocolVersion(int(match.group(1))), message_data[match.end() :]
        if message_data.startswith(b"content-type"):
            return ProtocolVersion.VERSION_2, message_data
        return ProtocolVersion.VERSION_1, message_data


class ProtocolFeature(enum.Enum):
    """A protocol feature; its value is ``(a distinct number, the first version that supports it)``."""

    CONTENT_TYPE_HEADER = (1, ProtocolVersion.VERSION_2)
    VERSION_MARKER = (2, ProtocolVersion.VERSION_3)
    CHUNKED_RESPONSES = (3, ProtocolVersion.VERSION_3)

    def supported_in(self, version: ProtocolVersion) -> bool:
        """Whether messages of ``version`` may use this feature."""
        minimum: ProtocolVersion = self.value[1]
        return version >= minimum
