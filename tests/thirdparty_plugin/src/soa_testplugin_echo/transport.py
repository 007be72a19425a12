"""Transport ``echo``: a client and a server in one process exchange messages through shared queues.

Requests for a service go to one queue per service; each response goes to the queue named by the
request's ``reply_to`` meta, which is unique per client transport and sending thread (so a thread
only ever receives the responses to its own requests, as the transport contract requires).
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections import Counter
from typing import Any, ClassVar

from conformity import fields

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage, ServerTransport, get_hex_thread_id
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout

__all__ = ["EchoClientTransport", "EchoServerTransport"]

_Message = tuple[Any, dict[str, Any], dict[str, Any]]

_queues: dict[str, queue.Queue[_Message]] = {}
_queues_lock = threading.Lock()

_SCHEMA = fields.Dictionary(
    {"receive_timeout_in_seconds": fields.Float(gt=0)},
    optional_keys=("receive_timeout_in_seconds",),
)


def _queue(key: str) -> queue.Queue[_Message]:
    with _queues_lock:
        return _queues.setdefault(key, queue.Queue())


def _get(key: str, timeout: float) -> ReceivedMessage:
    try:
        request_id, meta, body = _queue(key).get(timeout=timeout)
    except queue.Empty:
        raise MessageReceiveTimeout(f"Nothing arrived on {key!r} within {timeout} seconds") from None
    return ReceivedMessage(request_id, meta, body)


class EchoClientTransport(ClientTransport):
    name = "echo"
    settings_schema: ClassVar[fields.Base] = _SCHEMA

    def __init__(
        self, service_name: str, metrics: MetricsRecorder | None = None, receive_timeout_in_seconds: float = 5.0
    ) -> None:
        super().__init__(service_name, metrics)
        self.receive_timeout_in_seconds = receive_timeout_in_seconds
        self._client_id = uuid.uuid4().hex
        self._outstanding: Counter[str] = Counter()

    def _reply_to(self) -> str:
        return f"reply.{self._client_id}!{get_hex_thread_id()}"

    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        reply_to = self._reply_to()
        _queue(f"service.{self.service_name}").put((request_id, {**meta, "reply_to": reply_to}, body))
        self._outstanding[reply_to] += 1

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        reply_to = self._reply_to()
        if not self._outstanding[reply_to]:
            return ReceivedMessage(None, None, None)
        message = _get(reply_to, receive_timeout_in_seconds or self.receive_timeout_in_seconds)
        self._outstanding[reply_to] -= 1
        return message


class EchoServerTransport(ServerTransport):
    name = "echo"
    settings_schema: ClassVar[fields.Base] = _SCHEMA

    def __init__(
        self,
        service_name: str,
        metrics: MetricsRecorder | None = None,
        instance_index: int = 1,
        receive_timeout_in_seconds: float = 5.0,
    ) -> None:
        super().__init__(service_name, metrics, instance_index)
        self.receive_timeout_in_seconds = receive_timeout_in_seconds

    def receive_request_message(self) -> ReceivedMessage:
        return _get(f"service.{self.service_name}", self.receive_timeout_in_seconds)

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        reply_to = meta.get("reply_to")
        if not isinstance(reply_to, str):
            raise InvalidMessageError("The request had no reply_to", request_id=request_id, meta=meta)
        _queue(reply_to).put((request_id, meta, body))
