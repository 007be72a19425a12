"""A client transport whose server answers from another thread, after a delay.

It makes the client's response routing observable without a network: replies arrive
asynchronously, possibly late, possibly out of order, like they do over Redis.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, ClassVar

from conformity import fields

from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage
from pysoa.errors import MessageReceiveTimeout
from pysoa.server.server import Server


class ThreadedClientTransport(ClientTransport):
    """Runs ``server_class.process_job`` in a worker thread; each reply waits for the request's ``delay`` body key."""

    name = "threaded-test"
    settings_schema = fields.Dictionary({"server_class": fields.Anything()})
    sent: ClassVar[list[tuple[Any, dict[str, Any]]]] = []

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None, server_class: Any = None) -> None:
        super().__init__(service_name, metrics)
        self.server: Server = server_class({"transport": "local"})
        self._replies: dict[int, queue.Queue[tuple[Any, dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def _queue(self, ident: int) -> queue.Queue[tuple[Any, dict[str, Any]]]:
        with self._lock:
            return self._replies.setdefault(ident, queue.Queue())

    def send_request_message(
        self,
        request_id: Any,
        meta: dict[str, Any],
        body: dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        type(self).sent.append((request_id, body))
        replies = self._queue(threading.get_ident())
        delay = max((a.get("body") or {}).get("delay", 0) for a in body["actions"])
        suppress = body["control"].get("suppress_response", False)

        def work() -> None:
            time.sleep(delay)
            response = self.server.process_job(body)
            if not suppress:
                replies.put((request_id, response.to_dict()))

        threading.Thread(target=work, daemon=True).start()

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        replies = self._queue(threading.get_ident())
        try:
            request_id, body = replies.get(
                timeout=5 if receive_timeout_in_seconds is None else receive_timeout_in_seconds
            )
        except queue.Empty:
            raise MessageReceiveTimeout("No reply in time") from None
        return ReceivedMessage(request_id, {}, body)
