"""Registers soa-otel's client and server middleware (both named ``otel``) with soa-core."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.middleware.client import ClientMiddleware
from pysoa.common.middleware.server import ServerMiddleware
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_middleware() -> Sequence[type[ClientMiddleware] | type[ServerMiddleware]]:
    # The middleware modules import OpenTelemetry only when a middleware is bound to a service.
    from soa_otel.client import OTelClientMiddleware
    from soa_otel.server import OTelServerMiddleware

    return [OTelClientMiddleware, OTelServerMiddleware]
