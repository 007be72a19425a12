"""The module the ``pysoa`` entry point names: it registers this plugin's classes."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.client.middleware import ClientMiddleware
from pysoa.common.transport.base import ClientTransport, ServerTransport
from pysoa.plugins import hookimpl

__all__ = ["pysoa_register_middleware", "pysoa_register_transports"]


@hookimpl
def pysoa_register_transports() -> Sequence[type[ClientTransport] | type[ServerTransport]]:
    from soa_testplugin_echo.transport import EchoClientTransport, EchoServerTransport

    return [EchoClientTransport, EchoServerTransport]


@hookimpl
def pysoa_register_middleware() -> Sequence[type[ClientMiddleware]]:
    from soa_testplugin_echo.middleware import StampMiddleware

    return [StampMiddleware]
