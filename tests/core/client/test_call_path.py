"""The blocking call's own steps: what it does before the request is written, what while its reply is on its way,
and that its direct path (no middleware) answers exactly as the path through middleware does."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from conformity import fields

from pysoa.client import Client
from pysoa.client.middleware import ClientMiddleware
from pysoa.common.metrics import MetricsRecorder
from pysoa.common.transport.base import ClientTransport, ReceivedMessage
from pysoa.common.types import JobResponse


class ScriptedTransport(ClientTransport):
    """Answers each request with ``reply(job)``, in this thread; ``on_send`` and ``on_receive`` let a test look on."""

    name = "scripted-test"
    settings_schema = fields.Dictionary({})
    # How the transports made from now on answer (the last one set).
    replies: ClassVar[list[Callable[[dict[str, Any]], Any]]] = []

    def __init__(self, service_name: str, metrics: MetricsRecorder | None = None) -> None:
        super().__init__(service_name, metrics)
        self.reply = self.replies[-1] if self.replies else echo
        self.sent: list[tuple[Any, dict[str, Any], Any]] = []
        # Every request, as it was sent (the test may compare the job a call builds).
        self.log: list[tuple[dict[str, Any], Any]] = []
        self.on_send: Callable[[Any], None] = lambda _request_id: None
        self.on_receive: Callable[[], None] = lambda: None

    def send_request_message(
        self, request_id: Any, meta: dict[str, Any], body: Any, message_expiry_in_seconds: float | None = None
    ) -> None:
        self.on_send(request_id)
        self.sent.append((request_id, meta, body))
        self.log.append((meta, body))

    def receive_response_message(self, receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        self.on_receive()
        if not self.sent:
            return ReceivedMessage(None, None, None)
        request_id, _meta, body = self.sent.pop(0)
        return ReceivedMessage(request_id, {}, self.reply(body))


def echo(job: dict[str, Any]) -> dict[str, Any]:
    actions = [{"action": a["action"], "errors": [], "body": dict(a["body"])} for a in job["actions"]]
    return {"errors": [], "context": {"correlation_id": job["context"]["correlation_id"]}, "actions": actions}


class PassThrough(ClientMiddleware):
    """Middleware that changes nothing: its presence alone takes the calls through the stacks."""


SETTINGS = {"transport": {"path": "tests.core.client.test_call_path:ScriptedTransport"}}
WITH_MIDDLEWARE = {**SETTINGS, "middleware": [{"path": "tests.core.client.test_call_path:PassThrough"}]}


def transport_of(client: Client) -> ScriptedTransport:
    transport = client._get_handler("svc").transport
    assert isinstance(transport, ScriptedTransport)
    return transport


def test_a_reply_is_expected_only_once_its_request_is_written() -> None:
    client = Client({"svc": SETTINGS})
    handler = client._get_handler("svc")
    expected_while_sending: list[bool] = []
    transport_of(client).on_send = lambda request_id: expected_while_sending.append(
        handler._router.is_expected(request_id)
    )
    assert client.call_action("svc", "echo", {"n": 1}).body == {"n": 1}
    # Registering it is bookkeeping for the wait, done while the reply is on its way.
    assert expected_while_sending == [False]


def test_a_failed_send_leaves_nothing_expected() -> None:
    client = Client({"svc": SETTINGS})

    def fail(_request_id: Any) -> None:
        raise ConnectionError("down")

    transport_of(client).on_send = fail
    with pytest.raises(ConnectionError):
        client.call_action("svc", "echo", {"n": 1})
    assert len(client._get_handler("svc")._router) == 0


def test_the_request_is_let_go_of_before_the_reply_is_awaited() -> None:
    client = Client({"svc": SETTINGS})
    transport = transport_of(client)
    references: list[int] = []
    # While the client waits, only the transport holds the job it sent (in its two lists; the third reference
    # is getrefcount's argument): the client's own references are gone before the reply comes, not after.
    transport.on_receive = lambda: references.append(sys.getrefcount(transport.sent[0][2]))
    client.call_action("svc", "echo", {"n": 1})
    assert references == [3]


def job_errors(job: dict[str, Any]) -> dict[str, Any]:
    return {"errors": [{"code": "BAD", "message": "job failed"}], "context": {}, "actions": []}


def action_errors(job: dict[str, Any]) -> dict[str, Any]:
    return {
        "errors": [],
        "context": {"correlation_id": job["context"]["correlation_id"]},
        "actions": [{"action": "echo", "errors": [{"code": "NO", "message": "nope", "field": "n"}], "body": {}}],
    }


def malformed(job: dict[str, Any]) -> dict[str, Any]:
    return {"errors": [], "context": {}, "actions": [{"no_action_name": True}]}


def no_context(job: dict[str, Any]) -> dict[str, Any]:
    return {"actions": [{"action": "echo", "body": None}]}


def outcome(settings: dict[str, Any], call: dict[str, Any], client_class: type[Client] = Client) -> Any:
    """What a call answers (the action response or job errors as dicts, or the error raised), and what it sent."""
    client = client_class({"svc": settings}, context={"base": "ctx"})
    try:
        result: Any = client.call_action("svc", "echo", {"n": 1}, **call)
    except Exception as exc:
        result = (type(exc), str(exc))
    else:
        result = [error.to_dict() for error in result] if isinstance(result, list) else result.to_dict()
    sent = []
    for meta, body in transport_of(client).log:
        # The job as sent, but for what differs from call to call: the deadline's instant, a new correlation id.
        control = {k: (v if k != "deadline" else "set") for k, v in body["control"].items()}
        context = {k: (v if k != "correlation_id" or v == "cid" else "new") for k, v in body["context"].items()}
        sent.append((meta, control, context, body["actions"]))
    return result, sent


# The replies and the call options the tests below run each path with.
REPLIES = [echo, job_errors, action_errors, malformed, no_context]
CALLS: list[dict[str, Any]] = [
    {},
    {"raise_job_errors": False, "raise_action_errors": False},
    {"switches": [5, 2], "context": {"extra": 1, "switches": [7]}, "correlation_id": "cid"},
    {"timeout": 30, "continue_on_error": True, "control_extra": {"x": 1}},
]


@pytest.fixture(params=REPLIES)
def scripted_reply(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each call's server answers with one of REPLIES, in turn."""
    ScriptedTransport.replies.append(request.param)
    yield
    ScriptedTransport.replies.pop()


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.usefixtures("scripted_reply")
def test_the_direct_path_answers_as_the_path_through_middleware(call: dict[str, Any]) -> None:
    assert outcome(SETTINGS, call) == outcome(WITH_MIDDLEWARE, call)


def test_a_subclass_with_its_own_innermost_step_is_still_called() -> None:
    from pysoa.client.client import ServiceHandler

    received: list[Any] = []

    class Recording(ServiceHandler):
        def _base_get_response(self, receive_timeout_in_seconds: float | None = None) -> tuple[Any, JobResponse | None]:
            got = super()._base_get_response(receive_timeout_in_seconds)
            received.append(got[0])
            return got

    class RecordingClient(Client):
        handler_class = Recording

    client = RecordingClient({"svc": SETTINGS})
    client.call_action("svc", "echo", {"n": 1})
    assert len(received) == 1


class HookedSendJob(Client):
    """A client whose _send_job is its own: the blocking call must go through it (the PendingJob path)."""

    sent_jobs = 0

    def _send_job(self, service_name: str, job: dict[str, Any], timeout: float | None) -> Any:
        type(self).sent_jobs += 1
        return super()._send_job(service_name, job, timeout)


class HookedMakeJob(Client):
    """A client whose _make_job is its own: the blocking call must build its jobs with it."""

    def _make_job(self, *args: Any) -> dict[str, Any]:
        job = super()._make_job(*args)
        job["context"]["made_by"] = "hook"
        return job


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.usefixtures("scripted_reply")
def test_the_blocking_call_answers_as_the_path_through_send_job(call: dict[str, Any]) -> None:
    before = HookedSendJob.sent_jobs
    plain = outcome(SETTINGS, call, Client)
    hooked = outcome(SETTINGS, call, HookedSendJob)
    assert HookedSendJob.sent_jobs == before + 1
    assert plain == hooked


def test_a_subclass_with_its_own_make_job_builds_the_blocking_calls_jobs() -> None:
    client = HookedMakeJob({"svc": SETTINGS})
    client.call_action("svc", "echo", {"n": 1})
    client.call_actions("svc", [{"action": "echo"}])
    assert [body["context"]["made_by"] for _meta, body in transport_of(client).log] == ["hook", "hook"]


def test_the_blocking_call_keeps_the_replies_to_other_requests_and_registers_nothing() -> None:
    client = Client({"svc": SETTINGS})
    handler = client._get_handler("svc")
    earlier = client.send_request("svc", [{"action": "echo", "body": {"n": 0}}])
    # The transport answers in send order: the reply to the earlier request comes first and is kept for it.
    assert client.call_action("svc", "echo", {"n": 1}).body == {"n": 1}
    responses = list(client.get_all_responses("svc"))
    assert [(request_id, response.actions[0].body) for request_id, response in responses] == [(earlier, {"n": 0})]
    assert len(handler._router) == 0


def test_a_late_reply_to_a_blocking_call_that_gave_up_is_dropped() -> None:
    client = Client({"svc": SETTINGS})
    transport = transport_of(client)
    handler = client._get_handler("svc")
    from pysoa.errors import MessageReceiveTimeout

    real_receive = transport.receive_response_message
    state = {"fail": True}

    def receive_once_late(receive_timeout_in_seconds: float | None = None) -> ReceivedMessage:
        if state["fail"]:
            state["fail"] = False
            raise MessageReceiveTimeout("nothing yet")
        return real_receive(receive_timeout_in_seconds)

    transport.receive_response_message = receive_once_late  # type: ignore[method-assign]
    with pytest.raises(MessageReceiveTimeout):
        client.call_action("svc", "echo", {"n": 1})
    # The late reply (to the call that gave up) comes before the next call's own: dropped, not returned.
    assert client.call_action("svc", "echo", {"n": 2}).body == {"n": 2}
    assert len(handler._router) == 0
