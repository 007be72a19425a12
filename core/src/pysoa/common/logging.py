"""Logging context (correlation id, request id, service, action), redaction of sensitive values, syslog handler."""

from __future__ import annotations

import contextvars
import functools
import logging
import logging.handlers
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

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
    "push_logging_request_context",
    "reset_logging_action_name",
    "reset_logging_request_context",
    "set_logging_action_name",
    "set_logging_request_context",
]

CENSORED = "**********"


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def _variants(term: str) -> set[str]:
    """Every spelling of a space-separated term a key may use, singular and plural.

    snake_case, kebab-case, camelCase, PascalCase and all-lowercase-joined; the plural changes the
    last word only (``card security code`` -> ``card_security_codes``, ``card security`` ->
    ``card_securities``).
    """
    words = term.split()
    forms = set()
    for spelled in (words, [*words[:-1], _plural(words[-1])]):
        forms.add("_".join(spelled))
        forms.add("-".join(spelled))
        forms.add(spelled[0] + "".join(word.capitalize() for word in spelled[1:]))
        forms.add("".join(word.capitalize() for word in spelled))
        forms.add("".join(spelled))
    return forms


# The terms whose values the request/response log masks. It covers every key name PySOA 1.4
# masked (its list spelled each term in snake, kebab and camel case, most also in the plural) and
# some it did not (API keys, cookies, social security numbers, ...): masking a value that did not
# need it costs a log reader little, logging a secret in clear is a leak.
_SENSITIVE_TERMS = (
    # passwords and keys
    "password",
    "pass",
    "passwd",
    "pass phrase",
    "passphrase",
    "private",
    "private key",
    "secret",
    "secret key",
    "client secret",
    "api key",
    "access key",
    "security code",
    "security answer",
    "signature",
    # tokens and credentials
    "auth",
    "token",
    "auth token",
    "access token",
    "refresh token",
    "id token",
    "session token",
    "authorization",
    "authorization token",
    "authentication",
    "authentication token",
    "credential",
    "cookie",
    "session id",
    # payment cards
    "credit card",
    "credit card number",
    "card number",
    "cc number",
    "ccn",
    "cid",
    "csc",
    "csn",
    "cvc",
    "cvc2",
    "cvd",
    "cve",
    "cvn2",
    "cvv",
    "cvv2",
    "icvv",
    "card id",
    *(
        f"card {kind}{detail}"
        for kind in ("identification", "security", "validation", "verification")
        for detail in ("", " code", " number", " value")
    ),
    # banking and identity
    "account number",
    "bank account",
    "bank account number",
    "routing number",
    "pin",
    "pin code",
    "pin number",
    "personal id number",
    "personal identification number",
    "ssn",
    "social security number",
    "tax id",
)

# Every spelling a key may take. Keys are compared exactly (as PySOA did), so each spelling is listed.
SENSITIVE_FIELDS: frozenset[str] = frozenset(form for term in _SENSITIVE_TERMS for form in _variants(term))


def make_censor(extra_fields: Iterable[str] = ()) -> Callable[[Any], Any]:
    """Return ``censor(value)``: a deep copy of ``value`` with sensitive values masked.

    A key is sensitive when it is in :data:`SENSITIVE_FIELDS` or ``extra_fields`` (the server's
    ``extra_fields_to_redact`` setting). Under a sensitive key, truthy ``str``/``int`` values (not
    ``bool``) are masked, and so is each such element of a list, tuple or set; dicts are always
    recursed into, so a dict under a sensitive key keeps its harmless keys visible.
    """
    fields = SENSITIVE_FIELDS | frozenset(extra_fields)
    return _censor_for(fields)


@functools.lru_cache(maxsize=32)
def _censor_for(fields: frozenset[str]) -> Callable[[Any], Any]:
    def censor(value: Any, sensitive: bool = False) -> Any:
        if isinstance(value, Mapping):
            return {key: censor(item, key in fields) for key, item in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [censor(item, sensitive) for item in value]
            return items if isinstance(value, list) else type(value)(items)
        if sensitive and value and isinstance(value, (str, int)) and not isinstance(value, bool):
            return CENSORED
        return value

    return censor


class RecursivelyCensoredDictWrapper:
    """Wraps a dict so that its ``str``/``repr``/``bytes`` are of a censored copy.

    The copy is made the first time the wrapper is formatted (so only when a log record is
    actually emitted), then reused. ``wrapped_dict`` must be a mapping (:class:`ValueError`
    otherwise, as in PySOA). ``censor`` (from :func:`make_censor`) defaults to masking
    :attr:`SENSITIVE_FIELDS`, which a subclass may widen.
    """

    __slots__ = ("_censor", "_repr", "_value")

    SENSITIVE_FIELDS: frozenset[str] = SENSITIVE_FIELDS
    CENSORED_STRING: str = CENSORED

    def __init__(self, wrapped_dict: Mapping[str, Any], censor: Callable[[Any], Any] | None = None) -> None:
        if not isinstance(wrapped_dict, Mapping):
            raise ValueError(f"wrapped_dict must be a dict, not {type(wrapped_dict).__name__}")
        self._value = wrapped_dict
        self._censor = censor or _censor_for(self.SENSITIVE_FIELDS)
        self._repr: str | None = None

    def __repr__(self) -> str:
        if self._repr is None:
            self._repr = repr(self._censor(self._value))
        return self._repr

    __str__ = __repr__

    def __bytes__(self) -> bytes:
        return repr(self).encode("utf-8")


# --- logging context -----------------------------------------------------------------------------
#
# Each is a stack: setting a context while one is set and clearing it again restores the outer
# one. The stacks are tuples (a new one per set), so a copy of the context (a new asyncio task, a
# thread started with contextvars.copy_context) never shares a mutable stack with its parent.

_RequestContext = Mapping[str, Any]
_request_contexts: contextvars.ContextVar[tuple[_RequestContext, ...]] = contextvars.ContextVar(
    "pysoa_request_contexts", default=()
)
_action_names: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("pysoa_action_names", default=())
_service_name = "unknown"


def set_logging_request_context(**context: Any) -> contextvars.Token[tuple[_RequestContext, ...]]:
    """Push a request context (``correlation_id``, ``request_id``, ...) for log records.

    Returns a token; :func:`clear_logging_request_context` with it restores exactly what was
    current before this call.
    """
    return push_logging_request_context(context)


def push_logging_request_context(context: _RequestContext) -> contextvars.Token[tuple[_RequestContext, ...]]:
    """:func:`set_logging_request_context` with the context as a mapping, which may hold any keys."""
    return _request_contexts.set((*_request_contexts.get(), context))


def push_job_log_context(request_id: Any, body: Any) -> contextvars.Token[tuple[_RequestContext, ...]]:
    """Push the log context of a job request ``body`` that the transport received as ``request_id``.

    The job's context may hold any keys (a caller's ``request_id`` among them): none of them can
    stop the request from being answered, and the record's ``request_id`` is always the transport's.
    """
    context = body.get("context") if isinstance(body, dict) else None
    if not isinstance(context, dict):
        log_context = {"request_id": request_id}
    else:
        log_context = {"request_id": request_id, **context}
        if "request_id" in context:
            log_context["request_id"] = request_id
    return _request_contexts.set((*_request_contexts.get(), log_context))


def clear_logging_request_context(token: contextvars.Token[tuple[_RequestContext, ...]] | None = None) -> None:
    """Pop the innermost request context (or, given a token, restore the stack from before it)."""
    if token is not None:
        _request_contexts.reset(token)
        return
    stack = _request_contexts.get()
    if stack:
        _request_contexts.set(stack[:-1])


# The token-taking halves of the clear functions, bound once: a server calls them for every request and action.
reset_logging_request_context: Callable[[contextvars.Token[tuple[_RequestContext, ...]]], None] = (
    _request_contexts.reset
)
reset_logging_action_name: Callable[[contextvars.Token[tuple[str, ...]]], None] = _action_names.reset


def get_logging_request_context() -> _RequestContext | None:
    """The innermost request context, or ``None``."""
    stack = _request_contexts.get()
    return stack[-1] if stack else None


def set_logging_action_name(name: str) -> contextvars.Token[tuple[str, ...]]:
    """Push the name of the action being run; see :func:`set_logging_request_context`."""
    return _action_names.set((*_action_names.get(), name))


def clear_logging_action_name(token: contextvars.Token[tuple[str, ...]] | None = None) -> None:
    """Pop the innermost action name (or, given a token, restore the stack from before it)."""
    if token is not None:
        _action_names.reset(token)
        return
    stack = _action_names.get()
    if stack:
        _action_names.set(stack[:-1])


def get_logging_action_name() -> str | None:
    """The innermost action name, or ``None``."""
    stack = _action_names.get()
    return stack[-1] if stack else None


class PySOALogContextFilter(logging.Filter):
    """Adds ``correlation_id``, ``request_id``, ``service_name`` and ``action_name`` to every record.

    Absent values read ``--`` (ids), ``unknown`` (service) and ``(n/a)`` (action). The
    classmethods are PySOA's names for this module's context functions.
    """

    set_logging_request_context = staticmethod(set_logging_request_context)
    clear_logging_request_context = staticmethod(clear_logging_request_context)
    get_logging_request_context = staticmethod(get_logging_request_context)
    set_logging_action_name = staticmethod(set_logging_action_name)
    clear_logging_action_name = staticmethod(clear_logging_action_name)
    get_logging_action_name = staticmethod(get_logging_action_name)

    @classmethod
    def set_service_name(cls, service_name: str) -> None:
        global _service_name
        _service_name = service_name

    def filter(self, record: logging.LogRecord) -> bool:
        stack = _request_contexts.get()
        context = stack[-1] if stack else {}
        actions = _action_names.get()
        record.correlation_id = context.get("correlation_id") or "--"
        record.request_id = context.get("request_id") or "--"
        record.service_name = _service_name
        record.action_name = actions[-1] if actions else "(n/a)"
        return True


# PySOA sized UDP records for the largest of these link MTUs the path to the syslog host allows,
# and for the minimum every IPv4 host must accept when the path MTU cannot be learned.
_CANDIDATE_MTUS = (65535, 2000, 1500, 1280)
_FALLBACK_MTU = 576
_IP_AND_UDP_HEADER_BYTES = 28
_IP_MTU = getattr(socket, "IP_MTU", 14)  # Linux's getsockopt option for a connected socket's path MTU

_FIRST_TAIL = b"... (cont'd)"
_CONTINUED_HEAD = b"(cont'd #%d) ..."


def _path_mtu(host: str) -> int:
    """The largest candidate MTU the path to ``host`` carries (576 when it cannot be learned).

    Connecting a UDP socket sends nothing; the kernel then reports the path MTU it knows. This
    picks what PySOA's "don't fragment" probes found, without sending probe datagrams.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))
            mtu = probe.getsockopt(socket.IPPROTO_IP, _IP_MTU)
    except OSError:
        return _FALLBACK_MTU
    return next((candidate for candidate in _CANDIDATE_MTUS if candidate <= mtu), _FALLBACK_MTU)


class SyslogHandler(logging.handlers.SysLogHandler):
    """A syslog handler that sizes each packet for its connection instead of losing long records.

    Over UDP the largest record is the path MTU to the syslog host less the IP and UDP headers
    (learned once per host and process). A longer record is split into fragments
    (``overflow=OVERFLOW_BEHAVIOR_FRAGMENT``, the default) or cut short
    (``OVERFLOW_BEHAVIOR_TRUNCATE``). Fragmenting repeats the record's preamble (the formatted text
    before the message) in each fragment, ends every fragment but the last with ``... (cont'd)``
    and starts every fragment but the first with ``(cont'd #N) ...``. UTF-8 characters are never
    split. Over TCP or a Unix socket records are truncated at 1 MiB. Every packet is
    ``<priority>`` + ``ident`` + text + a NUL when ``append_nul`` is set (the default), as PySOA's.
    """

    OVERFLOW_BEHAVIOR_FRAGMENT = 0
    OVERFLOW_BEHAVIOR_TRUNCATE = 1

    MAXIMUM_STREAM_LENGTH = 1024 * 1024

    _path_mtus: ClassVar[dict[str, int]] = {}

    def __init__(
        self,
        address: tuple[str, int] | str = ("localhost", logging.handlers.SYSLOG_UDP_PORT),
        facility: int = logging.handlers.SysLogHandler.LOG_USER,
        socket_type: socket.SocketKind | None = None,
        overflow: int = OVERFLOW_BEHAVIOR_FRAGMENT,
    ) -> None:
        super().__init__(address, facility, socket_type)
        if not self.unixsocket and self.socktype == socket.SOCK_DGRAM and isinstance(address, tuple):
            host = address[0]
            if host not in self._path_mtus:
                self._path_mtus[host] = _path_mtu(host)
            self.maximum_length = self._path_mtus[host] - _IP_AND_UDP_HEADER_BYTES
            self.overflow = overflow
        else:
            self.maximum_length = self.MAXIMUM_STREAM_LENGTH
            self.overflow = self.OVERFLOW_BEHAVIOR_TRUNCATE

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(self.packets(record))
        except Exception:
            self.handleError(record)

    def packets(self, record: logging.LogRecord) -> list[bytes]:
        """The packets that carry ``record``, each at most :attr:`maximum_length` bytes."""
        formatted = self.format(record)
        encoded = formatted.encode("utf-8")
        ident = self.ident.encode("utf-8") if isinstance(self.ident, str) else bytes(self.ident or b"")
        header = f"<{self.encodePriority(self.facility, self.mapPriority(record.levelname))}>".encode() + ident
        suffix = b"\x00" if self.append_nul else b""
        room = self.maximum_length - len(header) - len(suffix)
        if len(encoded) < room:
            return [header + encoded + suffix]
        if self.overflow == self.OVERFLOW_BEHAVIOR_TRUNCATE:
            return [header + _split_utf8(encoded, room)[0] + suffix]
        preamble, rest = _preamble_and_rest(formatted, record)
        chunk_room = room - len(preamble) - len(_FIRST_TAIL)
        packets = []
        number = 1
        while rest:
            head = b"" if number == 1 else _CONTINUED_HEAD % number
            chunk, rest = _split_utf8(rest, chunk_room - len(head))
            if not chunk:
                # Not even one character fits next to the preamble and markers: cut the record instead.
                return [header + _split_utf8(encoded, room)[0] + suffix]
            packets.append(header + preamble + head + chunk + (_FIRST_TAIL if rest else b"") + suffix)
            number += 1
        return packets

    def _send(self, packets: list[bytes]) -> None:
        # ``socket`` and ``_connect_unixsocket`` are SysLogHandler internals typeshed does not declare.
        for data in packets:
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


def _preamble_and_rest(formatted: str, record: logging.LogRecord) -> tuple[bytes, bytes]:
    """Split a formatted record where its message starts: what comes before is repeated per fragment."""
    try:
        index = formatted.index(record.getMessage()[:40])
    except (TypeError, ValueError):
        # The message is not in the formatted text as such: repeat a short, fixed-size preamble.
        return f"{formatted[:30]} ".encode(), formatted[30:].encode("utf-8")
    return formatted[:index].encode("utf-8"), formatted[index:].encode("utf-8")


def _split_utf8(encoded: bytes, limit: int) -> tuple[bytes, bytes]:
    """``encoded`` cut at most ``limit`` bytes in, backing off so that no UTF-8 character is split."""
    cut = max(limit, 0)
    if cut < len(encoded):
        while cut > 0 and encoded[cut] & 0xC0 == 0x80:  # a continuation byte: inside a character
            cut -= 1
    return encoded[:cut], encoded[cut:]
