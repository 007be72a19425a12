"""A ROUTER socket a worker binds for clients to reach it without the router.

Two kinds of worker bind one: a ``standalone`` worker (on the service endpoint) and a worker that
offers leases (on its direct endpoint). Both serve clients, so both apply the service's CURVE
keys and client allow-list.
"""

from __future__ import annotations

from typing import Any

import zmq

from soa_zmq._curve import FRONTEND_ZAP_DOMAIN, make_curve_server, start_authenticator
from soa_zmq._settings import ServerOptions
from soa_zmq._sockets import apply_common_options, bind, open_socket, remove_ipc_file

__all__ = ["ClientFacingEndpoint"]


class ClientFacingEndpoint:
    """A bound ROUTER socket for clients, with the service's CURVE policy.

    It has its own context, so that its ZAP authenticator never meets another in the worker's process.
    """

    def __init__(self, options: ServerOptions, address: str) -> None:
        self.address = address
        self.context: zmq.Context[Any] = zmq.Context(io_threads=1)
        self.authenticator: Any = None
        self.bound = False
        try:
            self.socket = open_socket(self.context, zmq.ROUTER)
            apply_common_options(
                self.socket,
                maximum_message_size_in_bytes=options.maximum_message_size_in_bytes,
                send_high_water_mark=options.send_high_water_mark,
                receive_high_water_mark=options.receive_high_water_mark,
                heartbeat_interval_in_seconds=options.heartbeat_interval_in_seconds,
                heartbeat_timeout_in_seconds=options.heartbeat_timeout_in_seconds,
                linger_ms=1000,  # let the last answers (and refusals) leave at shutdown
                zmtp_heartbeats=False,
            )
            # A reply to a client that left fails at once instead of vanishing; a reconnecting
            # client takes its old identity back.
            self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
            self.socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
            if options.curve is not None:
                self.authenticator = start_authenticator(
                    self.context, {FRONTEND_ZAP_DOMAIN: options.curve.allowed_client_keys}
                )
                make_curve_server(self.socket, options.curve.secret_key, FRONTEND_ZAP_DOMAIN)
            bind(self.socket, address)
            self.bound = True
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        socket_ = getattr(self, "socket", None)
        if socket_ is not None:
            socket_.close()
            if self.bound:
                remove_ipc_file(self.address)
        if self.authenticator is not None:
            self.authenticator.stop()
            self.authenticator = None
        self.context.term()
