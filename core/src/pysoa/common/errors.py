"""PySOA's ``pysoa.common.errors``: the protocol :class:`Error` and the root exception."""

from __future__ import annotations

from pysoa.common.types import Error
from pysoa.errors import SOAError as PySOAError

__all__ = ["Error", "PySOAError"]
