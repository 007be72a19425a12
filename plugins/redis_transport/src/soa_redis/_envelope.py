"""Queue names, reply-queue checks, message expiry and envelope checks (docs/protocol.md, sections 1-2). No I/O."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Hashable, Mapping
from math import isfinite
from typing import Any, Final, TypeGuard

from pysoa.common.transport.message import Envelope, split_envelope
from pysoa.errors import InvalidMessageError

__all__ = [
    "CONTENT_TYPE_META_KEY",
    "EXPIRY_META_KEY",
    "LOCAL_META_KEYS",
    "PROTOCOL_VERSION_META_KEY",
    "QUEUE_NAME_PREFIX",
    "REDIS_EXPIRY_META_KEY",
    "Envelope",
    "is_expired",
    "is_valid_reply_to",
    "make_reply_to",
    "queue_key",
    "redis_ttl_seconds",
    "request_queue_key",
    "split_envelope",
    "stamp_expiry",
    "validate_request",
    "validate_response",
    "wire_meta",
]

QUEUE_NAME_PREFIX: Final = "pysoa:"
_SERVICE_PREFIX: Final = "service."
# A reply queue's Redis key, and any key a server pushes to, never exceeds this.
_MAX_REPLY_TO_LENGTH: Final = 512

EXPIRY_META_KEY: Final = "__expiry__"
# [sender's __expiry__, the same instant on the Redis server's clock]. PySOA peers ignore it (and echo
# it back unchanged with a new __expiry__, which the pairing detects), soa-core peers compare it with
# the Redis clock, so clock skew between hosts does not expire messages early or late.
REDIS_EXPIRY_META_KEY: Final = "__expiry_redis__"
# Where a received message's framing is remembered so the reply uses the same; never sent.
PROTOCOL_VERSION_META_KEY: Final = "__protocol_version__"
CONTENT_TYPE_META_KEY: Final = "__content_type__"
LOCAL_META_KEYS: Final = (PROTOCOL_VERSION_META_KEY, CONTENT_TYPE_META_KEY)

# Extra Redis TTL on a queue key beyond an explicit message timeout (PySOA's value).
_TTL_MARGIN_SECONDS: Final = 10


def request_queue_key(service_name: str) -> str:
    """The Redis key of a service's request queue: ``pysoa:service.<name>``."""
    return f"{QUEUE_NAME_PREFIX}{_SERVICE_PREFIX}{service_name}"


def make_reply_to(service_name: str, client_id: str, thread_hex: str) -> str:
    """A reply queue name as carried in ``meta.reply_to`` (no ``pysoa:`` prefix)."""
    return f"{_SERVICE_PREFIX}{service_name}.{client_id}!{thread_hex}"


def queue_key(queue_name: str) -> str:
    return QUEUE_NAME_PREFIX + queue_name


_REPLY_TO_TAIL: Final = re.compile(r"[^\s!]+![^\s!]+")


def is_valid_reply_to(value: Any, service_name: str) -> TypeGuard[str]:
    """Whether a server of ``service_name`` may push a reply to ``pysoa:`` + ``value``.

    Every PySOA or soa-core client names its reply queue ``service.<called service>.<id>!<thread>``;
    anything else is refused, so a forged ``reply_to`` can never make a server write to an arbitrary
    key (another service's queue, a request queue, or a key outside ``pysoa:service.<name>.``).
    """
    return isinstance(value, str) and _is_reply_queue_of(value, service_name)


# A server checks the reply queue of every request, and again before replying: the few queues of its clients'
# threads are checked once. Bounded, so made-up names from a hostile peer cannot grow it.
@functools.lru_cache(maxsize=1024)
def _is_reply_queue_of(value: str, service_name: str) -> bool:
    if len(value) > _MAX_REPLY_TO_LENGTH or not value.isprintable():
        return False
    prefix = f"{_SERVICE_PREFIX}{service_name}."
    return value.startswith(prefix) and _REPLY_TO_TAIL.fullmatch(value, len(prefix)) is not None


def redis_ttl_seconds(expires_in: float, explicit_timeout: bool) -> int:
    """The queue key's TTL: ``t + 10`` for a call with timeout ``t``, else the expiry itself (whole seconds)."""
    ttl = math.ceil(expires_in)
    if explicit_timeout:
        ttl += _TTL_MARGIN_SECONDS
    return max(1, ttl)


def stamp_expiry(meta: dict[str, Any], expires_in: float, now: float, redis_clock_offset: float | None) -> None:
    """Set ``__expiry__`` (sender's clock, as PySOA does) and, when the Redis clock is known, its pair."""
    expiry = now + expires_in
    meta[EXPIRY_META_KEY] = expiry
    if redis_clock_offset is None:
        meta.pop(REDIS_EXPIRY_META_KEY, None)
    else:
        meta[REDIS_EXPIRY_META_KEY] = [expiry, expiry + redis_clock_offset]


def _is_number(value: Any) -> bool:
    if type(value) is float:  # what every expiry is, checked first
        return math.isfinite(value)
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_expired(meta: Mapping[str, Any], now: float, redis_clock_offset: float | None) -> bool:
    """Whether a received message's expiry has passed.

    When both ends know the Redis server's clock (``redis_clock_offset`` = Redis time - local time)
    and the pair still belongs to this ``__expiry__``, compare on the Redis clock: the result then
    does not depend on skew between the two hosts. Otherwise honour ``__expiry__`` against the local
    clock, as PySOA does (a missing, zero or non-numeric expiry never expires).
    """
    expiry = meta.get(EXPIRY_META_KEY)
    if redis_clock_offset is not None:
        pair = meta.get(REDIS_EXPIRY_META_KEY)
        if (type(pair) is list or isinstance(pair, list | tuple)) and len(pair) == 2:
            sent, on_redis = pair
            # Equality first: it rules out most malformed pairs without a call; then the usual two floats, tested
            # without calling _is_number.
            if sent == expiry and (
                (type(sent) is float and type(on_redis) is float and isfinite(sent) and isfinite(on_redis))
                or (_is_number(sent) and _is_number(on_redis))
            ):
                return bool(now + redis_clock_offset > on_redis)
    if _is_number(expiry) and expiry:
        return bool(expiry < now)
    return False


def wire_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``meta`` without the keys this transport keeps for itself."""
    wire = dict(meta)
    wire.pop(PROTOCOL_VERSION_META_KEY, None)
    wire.pop(CONTENT_TYPE_META_KEY, None)
    return wire


def validate_request(envelope: Envelope, service_name: str) -> None:
    """Check a request envelope for a server of ``service_name``.

    Raises :class:`InvalidMessageError`. Its ``request_id`` and ``meta`` are set only when the
    request has an id and a valid reply queue, i.e. when the server can answer with a job error.
    """
    meta = envelope.meta
    if meta is None:
        raise InvalidMessageError("Request has no meta map, so no reply queue")
    if envelope.request_id is None:
        raise InvalidMessageError("Request has no request_id")
    reply_to = meta.get("reply_to")
    if reply_to is None:
        raise InvalidMessageError("Request has no reply queue (meta.reply_to)")
    if not is_valid_reply_to(reply_to, service_name):
        raise InvalidMessageError(
            f"Refusing reply queue {str(reply_to)[:100]!r}: not a reply queue of service {service_name!r}"
        )
    if not isinstance(envelope.body, dict):
        raise InvalidMessageError(
            f"Request body is not a map but {type(envelope.body).__name__}",
            request_id=envelope.request_id,
            meta=meta,
        )


def validate_response(envelope: Envelope) -> None:
    """Check a response envelope on the client. Raises :class:`InvalidMessageError`."""
    if envelope.request_id is None:
        raise InvalidMessageError("Response has no request_id")
    if not isinstance(envelope.request_id, Hashable):
        # Request ids are ints or strings; a list (msgpack array) cannot name a request.
        raise InvalidMessageError(f"Response request_id is a {type(envelope.request_id).__name__}")
    if not isinstance(envelope.body, dict):
        raise InvalidMessageError(
            f"Response body is not a map but {type(envelope.body).__name__}", request_id=envelope.request_id
        )
