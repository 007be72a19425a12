"""PySOA's ``pysoa.common.serializer.errors`` names for the serialization part of :mod:`pysoa.errors`."""

from __future__ import annotations

from pysoa.errors import DecodeError, EncodeError, SerializationError

InvalidMessage = DecodeError
InvalidField = EncodeError

__all__ = ["DecodeError", "EncodeError", "InvalidField", "InvalidMessage", "SerializationError"]
