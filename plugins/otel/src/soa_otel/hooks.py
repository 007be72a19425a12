"""Registers soa-otel's client, async client and server middleware (all named ``otel``) with soa-core."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.middleware.async_client import AsyncClientMiddleware
from pysoa.common.middleware.client import ClientMiddleware
from pysoa.common.middleware.server import ServerMiddleware
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_middleware() -> Sequence[
    type[ClientMiddleware] | type[ServerMiddleware] | type[AsyncClientMiddleware]
]:
    # The middleware modules import OpenTelemetry only when a middleware is bound to a service.
    from soa_otel.async_client import OTelAsyncClientMiddleware
    from soa_otel.client import OTelClientMiddleware
    from soa_otel.server import OTelServerMiddleware

    return [OTelClientMiddleware, OTelServerMiddleware, OTelAsyncClientMiddleware]
