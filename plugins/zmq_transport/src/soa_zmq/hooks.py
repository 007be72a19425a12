"""Registers the ZeroMQ transport with soa-core."""

from __future__ import annotations

from collections.abc import Sequence

from pysoa.common.transport.base import Transport
from pysoa.plugins import hookimpl


@hookimpl
def pysoa_register_transports() -> Sequence[type[Transport]]:
    from soa_zmq._async_client import AsyncZmqClientTransport
    from soa_zmq._async_server import AsyncZmqServerTransport
    from soa_zmq.transport import ZmqClientTransport, ZmqServerTransport

    return [ZmqClientTransport, ZmqServerTransport, AsyncZmqClientTransport, AsyncZmqServerTransport]
