"""The plain-job path of the one-job-at-a-time worker: same answers as the layered path, taken only when it may be."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from pysoa.common.middleware.server import ServerMiddleware
from pysoa.common.transport.base import ReceivedMessage
from pysoa.common.types import JobResponse
from pysoa.errors import MessageTooLarge
from pysoa.server.server import HarakiriInterrupt, Server
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest
from tests.core.server.test_malformed import QueueTransport
from tests.core.services import ExampleServer


def harakiri_now(request: Any) -> dict[str, Any]:
    raise HarakiriInterrupt()


def not_a_response_factory(_settings: Any) -> Any:
    return lambda _request: "not an ActionResponse"


def context_of(request: Any) -> dict[str, Any]:
    # The client's context is what chained calls carry along; the request's is the job's.
    client_context = dict(request.client.context) if request.client is not None else None
    return {"context": dict(request.context), "client": client_context, "switches": sorted(request.switches)}


def deadline_of(request: Any) -> dict[str, Any]:
    # Whether the action, and the calls its client makes, end by the job's deadline (its value differs per run).
    return {
        "has_deadline": request.deadline is not None,
        "client_ends_by_it": request.client is not None and request.client._deadline == request.deadline,
    }


def sleep_for(request: Any) -> dict[str, Any]:
    time.sleep(request.body["seconds"])
    return {}


class PlainServer(ExampleServer):
    action_class_map = {
        **ExampleServer.action_class_map,
        "harakiri": harakiri_now,
        "not_a_response": not_a_response_factory,
        "context_of": context_of,
        "deadline_of": deadline_of,
        "sleep_for": sleep_for,
    }


class TooLargeOnce(QueueTransport):
    """Refuses the first response that carries a ``big`` action, as a transport with a size limit would."""

    def __init__(self, items: list[Any]) -> None:
        super().__init__(items)
        self.refused = False

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        actions = body.get("actions") or []
        if not self.refused and any(a.get("action") == "big" for a in actions):
            self.refused = True
            raise MessageTooLarge(12345, "too large")
        super().send_response_message(request_id, meta, body)


def job(*actions: tuple[str, dict[str, Any]], **control: Any) -> dict[str, Any]:
    return {
        "control": {"continue_on_error": False, **control},
        "context": {"correlation_id": "cid", "switches": [], "caller": "tests"},
        "actions": [{"action": name, "body": body} for name, body in actions],
    }


JOBS: list[dict[str, Any]] = [
    job(("square", {"number": 3})),
    job(("square", {"number": 3}), ("square", {"number": 4})),
    job(("square", {"number": "x"})),
    job(("fail", {}), ("square", {"number": 2})),
    job(("fail", {}), ("square", {"number": 2}), continue_on_error=True),
    job(("square", {"number": 1}), ("job_fail", {}), ("square", {"number": 2})),
    job(("crash", {})),
    job(("bad_response", {})),
    job(("nope", {}), ("square", {"number": 2}), continue_on_error=True),
    job(("echo", {"a": 1})),
    job(("not_a_response", {})),
    job(("square", {"number": 5}), ("harakiri", {}), ("square", {"number": 6}), continue_on_error=True),
    job(("big", {"size": 10})),
    job(("square", {"number": 2}), suppress_response=True),
    {**job(("context_of", {})), "context": {"correlation_id": "c2", "switches": [5, 3], "other": {"k": 1}}},
    {**job(("versioned", {})), "context": {"correlation_id": "c3", "switches": [1]}},
    {"control": {"continue_on_error": False}, "context": {"correlation_id": "c4", "switches": []}, "actions": []},
    job(("deadline_of", {}), ("square", {"number": 7}), timeout=60),
    job(("deadline_of", {}), deadline=time.time() + 3600),
    # Out of time on arrival: refused.
    job(("square", {"number": 7}), deadline=1.0),
    # The second action's turn comes after the deadline: not run, and the job stops there.
    job(
        ("sleep_for", {"seconds": 0.04}), ("square", {"number": 2}), ("echo", {}), timeout=0.02, continue_on_error=True
    ),
]
METAS: list[dict[str, Any]] = [{"client_version": [1, 0, 0]}, {"client_version": [0, 60, 0]}, {}]


_LATE_BY = re.compile(r"passed [0-9.]+ s before")


def _without_tracebacks(value: Any) -> Any:
    # A traceback names the frames it passed through, which differ between the two paths; how late a job or an
    # action was differs between runs.
    if isinstance(value, dict):
        return {k: ("<traceback>" if k == "traceback" and v else _without_tracebacks(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_tracebacks(v) for v in value]
    if isinstance(value, str):
        return _LATE_BY.sub("passed <late by> s before", value)
    return value


def _serve(plain: bool, caplog: pytest.LogCaptureFixture) -> tuple[Server, TooLargeOnce, list[Any]]:
    server = PlainServer({"transport": "local"})
    assert server._plain_jobs
    server._plain_jobs = plain
    items = [ReceivedMessage(index, meta, body) for meta in METAS for index, body in enumerate(JOBS)]
    transport = TooLargeOnce(items)
    server.transport = transport
    with caplog.at_level(logging.WARNING, logger="pysoa.server.job"):
        for _ in range(len(items)):
            server.handle_next_request()
    return server, transport, [(r.levelname, r.getMessage().split("\n")[0]) for r in caplog.records]


def _figures(server: Server) -> dict[str, Any]:
    stats = server.runtime_stats
    return {
        "jobs": stats.jobs,
        "errors": stats.errors,
        "in_flight": stats.in_flight,
        "actions": {name: (latencies.count, latencies.errors) for name, latencies in stats.actions.items()},
    }


def test_plain_jobs_get_the_answers_counts_and_logs_of_the_layered_path(caplog: pytest.LogCaptureFixture) -> None:
    plain, plain_transport, plain_logs = _serve(True, caplog)
    caplog.clear()
    layered, layered_transport, layered_logs = _serve(False, caplog)
    assert _without_tracebacks(plain_transport.sent) == _without_tracebacks(layered_transport.sent)
    assert len(plain_transport.sent) == len(METAS) * (len(JOBS) - 1)  # the suppressed responses are not sent
    assert plain.stats == layered.stats
    assert _figures(plain) == _figures(layered)
    assert plain_logs == layered_logs
    assert plain.stats["harakiri.action"] == len(METAS)
    assert plain.runtime_stats.in_flight == 0
    codes = [[e["code"] for a in body["actions"] for e in a["errors"]] for _rid, _meta, body in plain_transport.sent]
    assert codes.count(["ACTION_TIMEOUT"]) == len(METAS)
    assert codes.count(["DEADLINE_EXCEEDED"]) == len(METAS)
    assert plain.stats["deadline_exceeded.job"] == plain.stats["deadline_exceeded.action"] == len(METAS)
    deadlines = [body["actions"][0]["body"] for _rid, _meta, body in plain_transport.sent if body["actions"]]
    assert deadlines.count({"has_deadline": True, "client_ends_by_it": True}) == 2 * len(METAS)


class Spied(PlainServer):
    """Records which path each job took: the layered path runs process_job."""

    layered: list[Any]


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> Spied:
    server = Spied({"transport": "local"})
    server.layered = []
    original = server.process_job

    def process_job(body: dict[str, Any]) -> JobResponse:
        server.layered.append(body)
        return original(body)

    monkeypatch.setattr(server, "process_job", process_job)
    return server


def _answer(server: Server, body: dict[str, Any]) -> dict[str, Any]:
    transport = QueueTransport([ReceivedMessage(1, {"client_version": [1, 0, 0]}, body)])
    server.transport = transport
    server.handle_next_request()
    ((_rid, _meta, sent),) = transport.sent
    return sent


def test_the_plain_path_takes_only_plain_jobs(spied: Spied, caplog: pytest.LogCaptureFixture) -> None:
    plain = job(("square", {"number": 2}))
    assert _answer(spied, plain)["actions"][0]["body"] == {"square": 4}
    assert spied.layered == []
    with_deadline = job(("square", {"number": 2}), deadline=time.time() + 60)
    with_timeout = job(("square", {"number": 2}), timeout=60)
    for body in (with_deadline, with_timeout):
        assert _answer(spied, body)["actions"][0]["body"] == {"square": 4}
    assert spied.layered == []
    out_of_time = job(("square", {"number": 2}), deadline=time.time() - 1)
    invalid = {**plain, "control": {}}
    for body in (out_of_time, invalid):
        _answer(spied, body)
    assert spied.layered == [out_of_time, invalid]
    with caplog.at_level(logging.INFO, logger="pysoa.server.job"):
        _answer(spied, plain)  # the job log is on: the layered path logs it
    assert spied.layered[-1] is plain


class OwnExecuteJob(PlainServer):
    def execute_job(self, job_request: EnrichedJobRequest) -> JobResponse:
        return super().execute_job(job_request)


class OwnRequest(EnrichedActionRequest):
    pass


class OwnRequestServer(PlainServer):
    request_class = OwnRequest


class Wraps(ServerMiddleware):
    def action(self, process_action: Any) -> Any:
        return process_action


def test_a_server_with_more_than_the_plain_path_does_never_takes_it() -> None:
    assert PlainServer({"transport": "local"})._plain_jobs
    assert not OwnExecuteJob({"transport": "local"})._plain_jobs
    assert not OwnRequestServer({"transport": "local"})._plain_jobs
    settings = {"transport": "local", "middleware": [{"path": f"{__name__}:Wraps"}]}
    assert not PlainServer(settings)._plain_jobs
