"""Logging context (correlation id, request id, service, action) and redaction of sensitive values."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "SENSITIVE_FIELDS",
    "PySOALogContextFilter",
    "RecursivelyCensoredDictWrapper",
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
