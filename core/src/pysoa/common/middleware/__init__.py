"""The middleware base classes: contracts, below the plugin system that registers middleware by kind.

:mod:`pysoa.client.middleware` and :mod:`pysoa.server.middleware` serve them under PySOA's paths.
"""

from __future__ import annotations

from pysoa.common.middleware.client import ClientMiddleware
from pysoa.common.middleware.server import ServerMiddleware

__all__ = ["ClientMiddleware", "ServerMiddleware"]
