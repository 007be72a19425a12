"""PySOA's ``pysoa.common.transport.errors`` names for the transport part of :mod:`pysoa.errors`."""

from __future__ import annotations

from typing import Any

from pysoa.errors import (
    InvalidMessageError,
    MessageReceiveError,
    MessageReceiveTimeout,
    MessageSendError,
    MessageSendTimeout,
    MessageTooLarge,
    TransientTransportError,
    TransportConnectionError,
)
from pysoa.errors import TransportError as PySOATransportError

TransientPySOATransportError = TransientTransportError

__all__ = [
    "InvalidMessageError",
    "MessageReceiveError",
    "MessageReceiveTimeout",
    "MessageSendError",
    "MessageSendTimeout",
    "MessageTooLarge",
    "PySOATransportError",
    "TransientPySOATransportError",
    "TransportConnectionError",
]


def __getattr__(name: str) -> Any:
    # PySOA called this class ``ConnectionError``. It is served lazily so that this module never
    # shadows the builtin name, while ``from ... import ConnectionError`` keeps working.
    if name == "ConnectionError":
        return TransportConnectionError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
