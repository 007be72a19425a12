"""Malformed requests never stop the server: answered with a job error where possible, else dropped and counted."""

from __future__ import annotations

from typing import Any

from pysoa.common.transport.base import ReceivedMessage, ServerTransport
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout
from tests.core.services import ExampleServer


class QueueTransport(ServerTransport):
    """Hands out a scripted list of messages or exceptions, and records responses."""

    name = "queue-test"

    def __init__(self, items: list[Any]) -> None:
        super().__init__("example")
        self.items = items
        self.sent: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []

    def receive_request_message(self) -> ReceivedMessage:
        if not self.items:
            raise MessageReceiveTimeout("idle")
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        result: ReceivedMessage = item
        return result

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        self.sent.append((request_id, meta, body))


GOOD: dict[str, Any] = {
    "control": {"continue_on_error": False},
    "context": {"correlation_id": "c", "switches": []},
    "actions": [{"action": "square", "body": {"number": 2}}],
}


def run_all(items: list[Any]) -> tuple[ExampleServer, QueueTransport]:
    server = ExampleServer({"transport": "local"})
    transport = QueueTransport(items)
    server.transport = transport
    for _ in range(len(items)):
        server.handle_next_request()
    return server, transport


def test_unanswerable_garbage_is_dropped_and_counted_then_work_continues() -> None:
    server, transport = run_all(
        [InvalidMessageError("garbage bytes"), ReceivedMessage(7, {"client_version": [0, 70, 0]}, GOOD)]
    )
    assert server.stats["error.malformed_request"] == 1
    assert [(rid, body["actions"][0]["body"]) for rid, _meta, body in transport.sent] == [(7, {"square": 4})]


def test_malformed_request_with_a_reply_address_gets_a_job_error() -> None:
    meta = {"client_version": [0, 70, 0], "reply_to": "service.example.x!1"}
    server, transport = run_all([InvalidMessageError("body is not a map", request_id=3, meta=meta)])
    ((rid, sent_meta, body),) = transport.sent
    assert rid == 3
    assert sent_meta is meta
    assert body["errors"][0]["code"] == "INVALID"
    assert "body is not a map" in body["errors"][0]["message"]
    assert server.stats["error.malformed_request"] == 1


def test_non_dict_body_and_invalid_job_get_job_errors() -> None:
    _server, transport = run_all(
        [
            ReceivedMessage(1, {}, ["not", "a", "dict"]),  # type: ignore[arg-type]
            ReceivedMessage(2, {}, {"actions": "nope"}),
            ReceivedMessage(3, {}, GOOD),
        ]
    )
    assert [rid for rid, _m, _b in transport.sent] == [1, 2, 3]
    assert transport.sent[0][2]["errors"][0]["code"] == "INVALID"
    assert {e["field"] for e in transport.sent[1][2]["errors"]} >= {"control", "context", "actions"}
    assert transport.sent[2][2]["actions"][0]["body"] == {"square": 4}


def test_suppressed_responses_are_not_sent() -> None:
    job = {**GOOD, "control": {"continue_on_error": False, "suppress_response": True}}
    _server, transport = run_all([ReceivedMessage(1, {}, job)])
    assert transport.sent == []


def test_a_broken_transport_stops_the_loop_with_a_failure_status() -> None:
    from pysoa.errors import ConfigurationError

    server = ExampleServer({"transport": "local", "harakiri": {"timeout": 0, "shutdown_grace": 1}})
    server.transport = QueueTransport([ReceivedMessage(1, {}, GOOD), ConfigurationError("backend misconfigured")])
    server.run()
    assert server.exit_status == 1
    assert len(server.transport.sent) == 1


def test_a_requested_stop_has_a_success_status() -> None:
    server = ExampleServer({"transport": "local", "harakiri": {"timeout": 0, "shutdown_grace": 1}})

    class StopAfterOne(QueueTransport):
        def receive_request_message(self) -> ReceivedMessage:
            server.shutting_down = True
            return super().receive_request_message()

    server.transport = StopAfterOne([ReceivedMessage(1, {}, GOOD)])
    server.run()
    assert server.exit_status == 0


def test_any_context_key_is_answered_and_the_log_keeps_the_transport_request_id() -> None:
    # Each key once stopped the worker: logging the request context passed the context as keyword arguments.
    from pysoa.common.logging import get_logging_request_context

    seen: list[Any] = []

    class ContextSeeingServer(ExampleServer):
        def perform_pre_request_actions(self) -> None:
            context = get_logging_request_context()
            seen.append(None if context is None else dict(context))

    contexts: list[dict[Any, Any]] = [{"request_id": "from-caller"}, {5: "int key"}]
    items = [ReceivedMessage(n, {}, {**GOOD, "context": {**GOOD["context"], **c}}) for n, c in enumerate(contexts)]
    server = ContextSeeingServer({"transport": "local"})
    transport = QueueTransport(items)
    server.transport = transport
    for _ in contexts:
        server.handle_next_request()
    assert [(rid, body["actions"][0]["body"]) for rid, _meta, body in transport.sent] == [
        (0, {"square": 4}),
        (1, {"square": 4}),
    ]
    assert [context["request_id"] for context in seen] == [0, 1]
    assert seen[1][5] == "int key"
