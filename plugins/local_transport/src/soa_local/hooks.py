"""Registers the local (in-process) transport with soa-core."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.transport.base import Transport
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_transports() -> Sequence[type[Transport]]:
    from soa_local.async_transport import AsyncLocalClientTransport, AsyncLocalServerTransport
    from soa_local.transport import LocalClientTransport, LocalServerTransport

    return [LocalClientTransport, LocalServerTransport, AsyncLocalClientTransport, AsyncLocalServerTransport]
