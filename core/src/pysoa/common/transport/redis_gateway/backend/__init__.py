"""PySOA's ``pysoa.common.transport.redis_gateway.backend`` package (see :mod:`.base`)."""

from __future__ import annotations
