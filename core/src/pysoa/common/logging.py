"""Logging context (correlation id, request id, service, action) and redaction of sensitive values."""

from __future__ import annotations

import contextvars
import logging
import logging.handlers
import socket
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "SENSITIVE_FIELDS",
    "PySOALogContextFilter",
    "RecursivelyCensoredDictWrapper",
    "SyslogHandler",
    "clear_logging_action_name",
    "clear_logging_request_context",
    "get_logging_action_name",
    "get_logging_request_context",
    "make_censor",
    "set_logging_action_name",
    "set_logging_request_context",
]

CENSORED = "**********"


def _variants(term: str) -> set[str]:
    """snake, kebab, camel and (simple) plural forms of a space-separated term."""
    words = term.split()
    forms = set()
    plurals = [words, [*words[:-1], words[-1] + ("es" if words[-1].endswith(("s", "ss")) else "s")]]
    for w in plurals:
        forms.add("_".join(w))
        forms.add("-".join(w))
        forms.add(w[0] + "".join(x.capitalize() for x in w[1:]))
        forms.add("".join(x.capitalize() for x in w))
        forms.add("".join(w))
    return forms


_SENSITIVE_TERMS = (
    "password",
    "passwd",
    "pass phrase",
    "passphrase",
    "secret",
    "client secret",
    "private key",
    "secret key",
    "api key",
    "access key",
    "token",
    "access token",
    "refresh token",
    "auth token",
    "id token",
    "session token",
    "auth",
    "authorization",
    "credential",
    "credit card",
    "card number",
    "credit card number",
    "cc number",
    "ccn",
    "cvv",
    "cvv2",
    "cvc",
    "cvc2",
    "pin",
    "pin number",
    "account number",
    "bank account",
    "routing number",
    "ssn",
    "social security number",
    "tax id",
    "security code",
    "security answer",
    "signature",
    "cookie",
    "session id",
)

# Every spelling a key may take; compared case-sensitively (as PySOA does) but with all variants listed.
SENSITIVE_FIELDS: frozenset[str] = frozenset(v for term in _SENSITIVE_TERMS for v in _variants(term))


def make_censor(extra_fields: Iterable[str] = ()) -> Any:
    """Return ``censor(value)``: a deep copy of ``value`` with sensitive values masked.

    Under a sensitive key, truthy ``str``/``int`` values (not ``bool``) are masked, and so is each
    such element of a list, tuple or set; dicts are always recursed into, so a dict under a
    sensitive key keeps its harmless keys visible.
    """
    fields = SENSITIVE_FIELDS | frozenset(extra_fields)

    def mask(value: Any) -> Any:
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value:
            return CENSORED
        return censor(value)

    def censor(value: Any, sensitive: bool = False) -> Any:
        if isinstance(value, Mapping):
            return {k: (censor(v, True) if k in fields else censor(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [mask(v) if sensitive else censor(v) for v in value]
            return items if isinstance(value, list) else type(value)(items)
        if sensitive:
            return mask(value)
        return value

    return censor


_default_censor = make_censor()


class RecursivelyCensoredDictWrapper:
    """Wraps a dict so that its ``str``/``repr`` (only computed when a log record is formatted) is censored."""

    __slots__ = ("_censor", "_value")

    def __init__(self, value: Mapping[str, Any], censor: Any = None) -> None:
        self._value = value
        self._censor = censor or _default_censor

    def __repr__(self) -> str:
        return repr(self._censor(self._value))

    __str__ = __repr__


# --- logging context ---------------------------------------------------------------------------

_request_context: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "pysoa_request_context", default=None
)
_action_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("pysoa_action_name", default=None)
_service_name = "unknown"


def set_logging_request_context(**context: Any) -> contextvars.Token[Mapping[str, Any] | None]:
    return _request_context.set(context)


def clear_logging_request_context(token: contextvars.Token[Mapping[str, Any] | None] | None = None) -> None:
    if token is not None:
        _request_context.reset(token)
    else:
        _request_context.set(None)


def get_logging_request_context() -> Mapping[str, Any] | None:
    return _request_context.get()


def set_logging_action_name(name: str) -> contextvars.Token[str | None]:
    return _action_name.set(name)


def clear_logging_action_name(token: contextvars.Token[str | None] | None = None) -> None:
    if token is not None:
        _action_name.reset(token)
    else:
        _action_name.set(None)


def get_logging_action_name() -> str | None:
    return _action_name.get()


class PySOALogContextFilter(logging.Filter):
    """Adds ``correlation_id``, ``request_id``, ``service_name`` and ``action_name`` to every record."""

    @classmethod
    def set_service_name(cls, service_name: str) -> None:
        global _service_name
        _service_name = service_name

    def filter(self, record: logging.LogRecord) -> bool:
        context = _request_context.get() or {}
        record.correlation_id = context.get("correlation_id") or "--"
        record.request_id = context.get("request_id") or "--"
        record.service_name = _service_name
        record.action_name = _action_name.get() or "(n/a)"
        return True


class SyslogHandler(logging.handlers.SysLogHandler):
    """A syslog handler that never loses a long record to the datagram size limit.

    Over UDP a record longer than one datagram is split into fragments marked ``... (cont'd)`` /
    ``(cont'd #N) ...`` (``overflow=OVERFLOW_BEHAVIOR_FRAGMENT``, the default) or cut short
    (``OVERFLOW_BEHAVIOR_TRUNCATE``); UTF-8 characters are never split. Over TCP or a Unix socket
    the limit is 1 MiB.
    """

    OVERFLOW_BEHAVIOR_FRAGMENT = 0
    OVERFLOW_BEHAVIOR_TRUNCATE = 1

    # A UDP payload that fits an Ethernet frame without IP fragmentation (1500 - 20 - 8).
    MAXIMUM_UDP_LENGTH = 1472
    MAXIMUM_STREAM_LENGTH = 1024 * 1024

    def __init__(
        self,
        address: tuple[str, int] | str = ("localhost", logging.handlers.SYSLOG_UDP_PORT),
        facility: int = logging.handlers.SysLogHandler.LOG_USER,
        socket_type: socket.SocketKind | None = None,
        overflow: int = OVERFLOW_BEHAVIOR_FRAGMENT,
    ) -> None:
        super().__init__(address, facility, socket_type)
        self.overflow = overflow
        datagram = self.socktype == socket.SOCK_DGRAM and not isinstance(address, str)
        self.maximum_length = self.MAXIMUM_UDP_LENGTH if datagram else self.MAXIMUM_STREAM_LENGTH

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            prefix = f"<{self.encodePriority(self.facility, self.mapPriority(record.levelname))}>"
            if self.ident:
                prefix += self.ident
            room = self.maximum_length - len(prefix.encode())
            encoded = message.encode("utf-8")
            if len(encoded) <= room:
                self._send(prefix, message)
                return
            if self.overflow == self.OVERFLOW_BEHAVIOR_TRUNCATE:
                self._send(prefix, _cut_utf8(encoded, room))
                return
            self._send_fragments(prefix, encoded, room)
        except Exception:
            self.handleError(record)

    def _send_fragments(self, prefix: str, encoded: bytes, room: int) -> None:
        first_tail = " ... (cont'd)"
        number = 1
        remaining = encoded
        while remaining:
            head = "" if number == 1 else f"(cont'd #{number}) ... "
            budget = room - len(head.encode())
            if len(remaining) > budget:
                piece = _cut_utf8(remaining, budget - len(first_tail.encode()))
                self._send(prefix, head + piece + first_tail)
                remaining = remaining[len(piece.encode("utf-8")) :]
            else:
                self._send(prefix, head + remaining.decode("utf-8"))
                remaining = b""
            number += 1

    def _send(self, prefix: str, message: str) -> None:
        data = (prefix + message).encode("utf-8")
        # ``socket`` and ``_connect_unixsocket`` are SysLogHandler internals typeshed does not declare.
        sock: socket.socket = getattr(self, "socket")  # noqa: B009
        if self.unixsocket:
            try:
                sock.send(data)
            except OSError:
                sock.close()
                getattr(self, "_connect_unixsocket")(self.address)  # noqa: B009
                getattr(self, "socket").send(data)  # noqa: B009
        elif self.socktype == socket.SOCK_DGRAM:
            sock.sendto(data, self.address)
        else:
            sock.sendall(data)


def _cut_utf8(encoded: bytes, limit: int) -> str:
    """The longest prefix of ``encoded`` within ``limit`` bytes that does not split a character."""
    return encoded[: max(limit, 0)].decode("utf-8", errors="ignore")
