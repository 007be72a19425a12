"""The I/O-free message layer every transport shares, sync and async.

A transport moves envelopes ``{"request_id", "meta", "body"}``. What it does to them apart from the
I/O is the same everywhere, so it lives here once:

* :class:`SerializerRegistry`: the serializer for a wire content type, with one policy for types
  nobody installed (:data:`UNKNOWN_CONTENT_TYPE_POLICY`);
* :class:`EnvelopeCodec`: serialize an envelope and check its size (:class:`MessageTooLarge`
  before any I/O), deserialize and take one apart (:class:`InvalidMessageError` for what is not an
  envelope);
* :class:`MessageSizes`: where a transport reports the size of each envelope it sends or receives,
  for whoever observes it (metrics middleware), at the cost of one ``None`` check while nobody does;
* deadline arithmetic (:func:`deadline_after`, :func:`time_left`, :func:`expiry_seconds`) on the
  ``time.monotonic()`` clock;
* :class:`ReplyRoute`: where a server transport sends a response, opaque to the server, so that
  transport-private data (reply address, framing) never rides in ``meta``;
* :class:`ResponseRouter`: which caller waits for which request id, for clients that share one
  connection between many callers (threads of the sync client, tasks of the async one).

Nothing here blocks, sleeps or touches a socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, NamedTuple, Protocol, TypeVar

from pysoa.common.serializer.base import Serializer
from pysoa.errors import DecodeError, InvalidMessageError, MessageTooLarge

__all__ = [
    "UNKNOWN_CONTENT_TYPE_POLICY",
    "Envelope",
    "EnvelopeCodec",
    "MessageSizeObserver",
    "MessageSizes",
    "ReplyRoute",
    "ResponseRouter",
    "SerializerRegistry",
    "deadline_after",
    "expiry_seconds",
    "split_envelope",
    "time_left",
]

# A message whose content type no installed serializer claims is decoded with the transport's
# default serializer (PySOA 1.4 does the same, and old peers send no content type at all); the
# lookup is not cached, so made-up types sent by a hostile peer cannot grow the registry.
UNKNOWN_CONTENT_TYPE_POLICY: Final = "decode with the default serializer"

_Owner = TypeVar("_Owner")
_Response = TypeVar("_Response")


# --- serializers -------------------------------------------------------------------------------------


class SerializerRegistry:
    """The serializers one transport uses: its default, and one per content type it has received.

    ``decode_limit`` (bytes) is given to every serializer built for a received content type; ``None``
    keeps the serializer's own limit. ``lookup(content_type)`` names the serializer class for a
    content type, or ``None`` (transports pass the plugin manager's ``serializer_for_mime_type``; this
    layer sits below the plugin system, so it is handed in). See :data:`UNKNOWN_CONTENT_TYPE_POLICY`
    for unknown types.
    """

    __slots__ = ("_by_type", "_decode_limit", "_lookup", "default")

    def __init__(
        self,
        default: Serializer,
        decode_limit: int | None = None,
        lookup: Callable[[str], type[Serializer] | None] | None = None,
    ) -> None:
        self.default = default
        self._decode_limit = decode_limit
        self._lookup = lookup
        self._by_type: dict[str, Serializer] = {default.mime_type: default}

    def serializer_for(self, content_type: str | None) -> Serializer:
        """The serializer for ``content_type``; the default for ``None`` and for unknown types."""
        if content_type is None:
            return self.default
        serializer = self._by_type.get(content_type)
        if serializer is not None:
            return serializer
        cls = self._lookup(content_type) if self._lookup is not None else None
        if cls is None:
            return self.default
        serializer = cls() if self._decode_limit is None else cls(max_message_size_in_bytes=self._decode_limit)
        self._by_type[content_type] = serializer
        return serializer


# --- message sizes -----------------------------------------------------------------------------------


class MessageSizeObserver(Protocol):
    """Told the size in bytes of each serialized envelope one transport sends or receives."""

    def sent(self, size: int) -> None: ...

    def received(self, size: int) -> None: ...


class MessageSizes:
    """The size hook of one transport instance (its ``message_sizes`` attribute, made by the transport base class).

    The transport calls :meth:`sent` with the bytes of each envelope it serializes and
    :meth:`received` with the bytes of each one it deserializes (the serializer's output, without
    transport framing); an :class:`EnvelopeCodec` built with ``sizes`` does both itself. A client
    transport sends requests and receives responses, a server transport the reverse. Whoever wants
    the sizes (metrics middleware, in ``bind``) sets :attr:`observer`; one observer per transport.
    Until then a report is one ``None`` check. Reports come from the thread or task that does the
    I/O, so an observer records figures per transport, not per call.
    """

    __slots__ = ("observer",)

    def __init__(self) -> None:
        self.observer: MessageSizeObserver | None = None

    def sent(self, size: int) -> None:
        observer = self.observer
        if observer is not None:
            observer.sent(size)

    def received(self, size: int) -> None:
        observer = self.observer
        if observer is not None:
            observer.received(size)


# --- envelopes ---------------------------------------------------------------------------------------


class Envelope(NamedTuple):
    """A decoded message taken apart: ``meta`` is ``None`` when the message had no map there.

    Immutable, compared by value. A named tuple rather than a frozen dataclass: two are built per call, and a
    frozen dataclass's ``__init__`` costs several times more.
    """

    request_id: Any
    meta: dict[str, Any] | None
    body: Any


# ``Envelope(a, b, c)`` runs the named tuple's Python-level ``__new__``; building the tuple directly
# makes the same object without that frame (one per message received).
_new_tuple = tuple.__new__


def split_envelope(message: Any) -> Envelope:
    """Take a decoded message apart. Raises :class:`InvalidMessageError` (no reply possible) if it is not a map."""
    if not isinstance(message, dict):
        raise InvalidMessageError(f"Message is not a map but {type(message).__name__}")
    get = message.get
    meta = get("meta")
    return _new_tuple(Envelope, (get("request_id"), meta if isinstance(meta, dict) else None, get("body")))


class EnvelopeCodec:
    """Serializes envelopes within a size limit, and reads them back.

    ``max_message_size_in_bytes`` bounds what :meth:`encode` produces; ``what`` names the peer in
    error messages (usually the service name). ``sizes`` (the transport's :class:`MessageSizes`)
    is told the size of every envelope encoded (``sent``) and decoded (``received``).
    """

    __slots__ = ("max_message_size_in_bytes", "serializers", "sizes", "what")

    def __init__(
        self,
        serializers: SerializerRegistry,
        max_message_size_in_bytes: int,
        what: str,
        sizes: MessageSizes | None = None,
    ) -> None:
        self.serializers = serializers
        self.max_message_size_in_bytes = max_message_size_in_bytes
        self.what = what
        self.sizes = sizes

    def encode(
        self, request_id: Any, meta: Mapping[str, Any], body: Any, serializer: Serializer | None = None
    ) -> bytes:
        """The serialized envelope. Raises ``EncodeError`` or :class:`MessageTooLarge`, both before any I/O."""
        chosen = serializer or self.serializers.default
        payload = chosen.dict_to_blob({"request_id": request_id, "meta": meta, "body": body})
        size = len(payload)
        if size > self.max_message_size_in_bytes:
            raise MessageTooLarge(
                size,
                f"Message of {size} bytes for {self.what} exceeds the maximum of "
                f"{self.max_message_size_in_bytes} bytes",
            )
        sizes = self.sizes
        if sizes is not None and sizes.observer is not None:  # MessageSizes.sent's test, without its call
            sizes.observer.sent(size)
        return payload

    def decode(self, payload: bytes, content_type: str | None = None) -> Envelope:
        """Deserialize with the serializer ``content_type`` names. Raises :class:`InvalidMessageError` only."""
        serializers = self.serializers
        # The common case, a message in the default format (or one that names none), without a lookup call.
        serializer = (
            serializers.default
            if content_type is None or content_type == serializers.default.mime_type
            else serializers.serializer_for(content_type)
        )
        try:
            message = serializer.blob_to_dict(payload)
        except DecodeError as exc:
            raise InvalidMessageError(f"Cannot decode {serializer.mime_type} message: {exc}") from exc
        sizes = self.sizes
        if sizes is not None and sizes.observer is not None:  # MessageSizes.received's test, without its call
            sizes.observer.received(len(payload))
        if type(message) is not dict:
            return split_envelope(message)  # a dict subclass is taken apart there, anything else refused
        # split_envelope's steps for the usual plain dict, without the call (one per message received).
        get = message.get
        meta = get("meta")
        return _new_tuple(Envelope, (get("request_id"), meta if isinstance(meta, dict) else None, get("body")))


# --- deadlines ----------------------------------------------------------------------------------------


def deadline_after(timeout: float | None) -> float | None:
    """The ``time.monotonic()`` instant ``timeout`` seconds from now; ``None`` (or 0) means no deadline."""
    return time.monotonic() + timeout if timeout else None


def time_left(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (never negative), or ``None`` when there is none."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    return left if left > 0.0 else 0.0  # not max(): its argument handling costs more than this (once per call)


def expiry_seconds(message_expiry_in_seconds: float | None, default: float) -> tuple[float, bool]:
    """How long a message lives, and whether the caller said so: ``(seconds, explicit)``.

    A missing or zero expiry means "the transport's default" (as in PySOA); a negative one is a call
    already out of time and is returned as is, for the transport to refuse.
    """
    if message_expiry_in_seconds:
        return float(message_expiry_in_seconds), True
    return float(default), False


# --- replies -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    """Where the response to one request goes; made and read only by the server transport that received it.

    ``address`` is transport-specific (a reply queue name, a ZeroMQ identity, a client object);
    ``framing`` holds what the reply must match (protocol version, content type). The server hands
    the route back unchanged with the response, so none of this rides in ``meta``.
    """

    address: Any
    framing: Mapping[str, Any] = field(default_factory=dict)


class ResponseRouter(Generic[_Owner, _Response]):
    """Routes responses by request id to whoever waits for them. Pure bookkeeping, no I/O, not locked.

    An *owner* is whatever a client uses to tell its callers apart (a thread id, an asyncio future).
    :meth:`expect` registers a request; :meth:`accept` hands over a received response and says whose
    it is (``None``: nobody waits any more, so it must be dropped); a response accepted on behalf of
    another caller can be :meth:`park`-ed until that caller :meth:`take`-s it. :meth:`abandon` forgets
    a request (its caller gave up) so that a late response is dropped.
    """

    __slots__ = ("_owners", "_parked")

    def __init__(self) -> None:
        self._owners: dict[Any, _Owner] = {}
        self._parked: dict[Any, _Response] = {}

    def __len__(self) -> int:
        return len(self._owners)

    def expect(self, request_id: Hashable, owner: _Owner) -> None:
        self._owners[request_id] = owner

    def is_expected(self, request_id: Any) -> bool:
        return request_id in self._owners

    def owner(self, request_id: Any) -> _Owner | None:
        """Who waits for ``request_id`` (it stays expected), or ``None``."""
        return self._owners.get(request_id)

    def accept(self, request_id: Any) -> _Owner | None:
        """The owner of ``request_id``, no longer expected from now on; ``None`` if nobody expects it."""
        try:
            return self._owners.pop(request_id, None)
        except TypeError:  # an unhashable id names no request
            return None

    def abandon(self, request_id: Any) -> None:
        self._owners.pop(request_id, None)
        self._parked.pop(request_id, None)

    def park(self, request_id: Any, response: _Response) -> None:
        self._parked[request_id] = response

    def take(self, request_id: Any) -> _Response | None:
        return self._parked.pop(request_id, None)

    def claim(self, request_id: Any) -> _Response | None:
        """:meth:`take` and :meth:`is_expected` in one call, for a caller about to wait (once per call).

        The response parked for ``request_id``, or ``None`` while it is still expected; raises
        :class:`KeyError` when neither, as nobody waits for it any more.
        """
        response = self._parked.pop(request_id, None)
        if response is None and request_id not in self._owners:
            raise KeyError(request_id)
        return response

    def expected_by(self, owner: _Owner) -> list[Any]:
        """The request ids ``owner`` still waits for, oldest first."""
        return [request_id for request_id, who in list(self._owners.items()) if who == owner]

    def parked_unclaimed(self) -> Iterator[tuple[Any, _Response]]:
        """Take every parked response whose request is no longer expected by anyone."""
        for request_id in [rid for rid in list(self._parked) if rid not in self._owners]:
            response = self._parked.pop(request_id, None)
            if response is not None:
                yield request_id, response

    def clear(self) -> dict[Any, _Owner]:
        """Forget every request; returns who was waiting for which."""
        owners, self._owners = self._owners, {}
        self._parked.clear()
        return owners
