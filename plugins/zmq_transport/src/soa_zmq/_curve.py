"""The server side of CURVE: a ZAP authenticator that admits listed keys, and server sockets that use it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import zmq

from pysoa.common.log_limit import RateLimitedLogger

__all__ = ["BACKEND_ZAP_DOMAIN", "FRONTEND_ZAP_DOMAIN", "make_curve_server", "start_authenticator"]

_logger = logging.getLogger("soa_zmq.auth")
# A refused peer reconnects every few milliseconds: one line per attempt would flood the log.
_refused_log = RateLimitedLogger(_logger)

FRONTEND_ZAP_DOMAIN = "soa-zmq.frontend"
BACKEND_ZAP_DOMAIN = "soa-zmq.backend"


class _AllowedKeys:
    """A ZAP credentials check: pyzmq calls ``callback(domain, z85_key)`` for each handshake."""

    def __init__(self, keys: frozenset[bytes] | None) -> None:
        self.keys = keys

    def callback(self, domain: str, key: bytes) -> bool:
        allowed = self.keys is None or key in self.keys
        if not allowed:
            _refused_log.warning("Refused a connection with CURVE key %s (%s)", key.decode(errors="replace"), domain)
        return allowed


def start_authenticator(context: zmq.Context[Any], allowed: Mapping[str, frozenset[bytes] | None]) -> Any:
    """Start a ZAP handler thread on ``context`` admitting, per ZAP domain, the listed Z85 public keys.

    ``None`` for a domain admits any key that completes the handshake (encryption only). Returns
    the authenticator; call its ``stop()`` before the context is terminated.
    """
    from zmq.auth.thread import ThreadAuthenticator

    authenticator = ThreadAuthenticator(context, log=_logger)
    authenticator.start()
    for domain, keys in allowed.items():
        authenticator.configure_curve_callback(domain, _AllowedKeys(keys))
    return authenticator


def make_curve_server(sock: zmq.Socket[Any], secret_key: bytes, zap_domain: str) -> None:
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret_key)
    sock.setsockopt(zmq.ZAP_DOMAIN, zap_domain.encode())
