"""Registers the ZeroMQ transport with soa-core."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.transport.base import ClientTransport, ServerTransport
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_transports() -> Sequence[type[ClientTransport] | type[ServerTransport]]:
    from soa_zmq.transport import ZmqClientTransport, ZmqServerTransport

    return [ZmqClientTransport, ZmqServerTransport]
