"""PySOA's ``pysoa.client.errors`` names for the client part of :mod:`pysoa.errors`."""

from __future__ import annotations

from pysoa.errors import CallActionError, CallJobError, ImproperlyConfigured, InvalidExpansionKey
from pysoa.errors import ClientError as PySOAClientError

__all__ = [
    "CallActionError",
    "CallJobError",
    "ImproperlyConfigured",
    "InvalidExpansionKey",
    "PySOAClientError",
]
