"""The ZeroMQ transport's classes (plugin name ``zmq``)."""

from __future__ import annotations

from soa_zmq._client import ZmqClientTransport
from soa_zmq._server import ZmqServerTransport

__all__ = ["ZmqClientTransport", "ZmqServerTransport"]
