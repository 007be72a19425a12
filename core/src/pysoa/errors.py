"""The one exception tree of soa-core.

Everything soa-core raises on purpose derives from :class:`SOAError`. Transport errors split into
programming errors (the message or configuration is wrong; retrying cannot help) and
:class:`TransientTransportError` (the backend had a problem; a retry may succeed). Backend
exceptions (redis, zmq, msgpack) are translated where they are caught, with ``raise ... from exc``.

PySOA 1.4 spread these classes over several modules and used some other names; those modules
(``pysoa.common.transport.errors``, ``pysoa.client.errors``, ...) re-export the classes under the
old names, so code written for PySOA keeps importing them from where it always did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import EllipsisType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pysoa.common.types import ActionResponse, Error

__all__ = [
    "ActionError",
    "CallActionError",
    "CallJobError",
    "ClientError",
    "ConfigurationError",
    "DecodeError",
    "DuplicatePluginError",
    "EncodeError",
    "ImproperlyConfigured",
    "InvalidExpansionKey",
    "InvalidMessageError",
    "JobError",
    "MessageReceiveError",
    "MessageReceiveTimeout",
    "MessageSendError",
    "MessageSendTimeout",
    "MessageTooLarge",
    "PluginError",
    "RequestTooLarge",
    "ResponseValidationError",
    "SOAError",
    "SerializationError",
    "ServerError",
    "TransientTransportError",
    "TransportConnectionError",
    "TransportError",
    "UnknownPluginError",
]


class SOAError(Exception):
    """Root of every error soa-core raises on purpose (PySOA's ``PySOAError``)."""


# --- configuration and plugins ---------------------------------------------------------------


class ConfigurationError(SOAError, ValueError):
    """Settings or plugins are wrong; raised when a client or server is built, naming the setting."""


class PluginError(ConfigurationError):
    """A plugin could not be found, loaded or registered."""


class UnknownPluginError(PluginError, LookupError):
    """No installed plugin of the requested kind has the requested name."""


class DuplicatePluginError(PluginError):
    """Two plugin classes claim the same name for the same kind."""


# --- serialization ------------------------------------------------------------------------------


class SerializationError(SOAError):
    """A message could not be converted to or from bytes."""


class DecodeError(SerializationError):
    """Bytes could not be decoded into a message (PySOA's ``InvalidMessage``).

    Decoders raise nothing else, whatever the input.
    """


class EncodeError(SerializationError):
    """A message holds a value the serializer cannot carry (PySOA's ``InvalidField``)."""


# --- transports -----------------------------------------------------------------------------------


class TransportError(SOAError):
    """A transport failed to move a message (PySOA's ``PySOATransportError``)."""


class MessageTooLarge(TransportError):
    """The serialized message exceeds the configured maximum; raised before any I/O."""

    def __init__(self, message_size_in_bytes: int, *args: Any) -> None:
        self.message_size_in_bytes = message_size_in_bytes
        super().__init__(*(args or (f"Message of {message_size_in_bytes} bytes is too large",)))


class InvalidMessageError(TransportError):
    """A received message is malformed (no request id, no reply queue, bad framing, ...).

    When the receiver could still tell who to answer, ``request_id`` and ``meta`` are set, and a
    server answers with a job error instead of dropping the message.
    """

    def __init__(self, *args: Any, request_id: Any = None, meta: dict[str, Any] | None = None) -> None:
        super().__init__(*args)
        self.request_id = request_id
        self.meta = meta


class RequestTooLarge(InvalidMessageError):
    """A server refused a request larger than its maximum message size, without decoding it.

    ``request_id`` and ``meta`` are set when the server could still read where to answer; it then
    answers with a ``REQUEST_TOO_LARGE`` job error instead of leaving the caller to time out.
    """


class TransientTransportError(TransportError):
    """The backend failed in a way that a later retry may not (PySOA's ``TransientPySOATransportError``)."""


class MessageSendError(TransientTransportError):
    """The message could not be sent (queue full, backend unreachable, ...)."""


class MessageSendTimeout(TransientTransportError):
    """Sending did not complete in time."""


class MessageReceiveError(TransientTransportError):
    """Receiving failed for a reason other than a timeout."""


class MessageReceiveTimeout(TransientTransportError):
    """No message arrived before the deadline."""


class TransportConnectionError(TransientTransportError):
    """The connection to the backend failed (PySOA's transport ``ConnectionError``)."""


# --- client ------------------------------------------------------------------------------------------


class ClientError(SOAError):
    """Base of errors the client raises itself (PySOA's ``PySOAClientError``)."""


class ImproperlyConfigured(ClientError, ConfigurationError):
    """The client is configured wrongly or was asked for a service it does not know."""


class InvalidExpansionKey(ClientError):
    """An expansion named in a call is not configured."""


class CallJobError(ClientError):
    """The job as a whole failed; ``errors`` holds the job-level :class:`Error` objects."""

    def __init__(self, errors: Sequence[Error] | None = None) -> None:
        self.errors: list[Error] = list(errors or [])
        super().__init__(self.errors)

    def __str__(self) -> str:
        return "Error executing job:\n" + "\n".join(f"{e!r}" for e in self.errors)


class CallActionError(ClientError):
    """One or more actions failed; ``actions`` holds the :class:`ActionResponse` objects with errors."""

    def __init__(self, actions: Sequence[ActionResponse] | None = None) -> None:
        self.actions: list[ActionResponse] = list(actions or [])
        super().__init__(self.actions)

    def __str__(self) -> str:
        lines = [f"{a.action}: {a.errors!r}" for a in self.actions]
        return "Error calling action(s):\n" + "\n".join(lines)


# --- server -----------------------------------------------------------------------------------------


class ServerError(SOAError):
    """Base of errors raised inside a server (PySOA's ``PySOAServerError``)."""


class _ErrorsCarrier(ServerError):
    """An exception carrying protocol :class:`Error` objects, optionally rewriting ``is_caller_error``."""

    default_is_caller_error: bool | None = None

    def __init__(self, errors: Iterable[Error], set_is_caller_error_to: bool | EllipsisType | None = ...) -> None:
        # ``...`` means "the class default"; ``None`` keeps each error's own flag.
        flag = (
            self.default_is_caller_error if isinstance(set_is_caller_error_to, EllipsisType) else set_is_caller_error_to
        )
        error_list = list(errors)
        if flag is not None:
            error_list = [e.with_caller_error(flag) for e in error_list]
        self.errors: list[Error] = error_list
        super().__init__(error_list)


class ActionError(_ErrorsCarrier):
    """Raise from an action to fail it with ``errors``; they become caller errors unless told otherwise."""

    default_is_caller_error = True


class JobError(_ErrorsCarrier):
    """Raise from an action or job middleware to fail the whole job with ``errors``."""

    default_is_caller_error = False


class ResponseValidationError(ServerError):
    """An action's response body does not match its ``response_schema`` (a server bug)."""

    def __init__(self, action: str, errors: Sequence[Any]) -> None:
        self.action = action
        self.errors = list(errors)
        super().__init__(f"{action} had an invalid response:\n\t" + "\n\t".join(map(str, self.errors)))
