"""Runtime figures of a server worker, reported by the status action with {"runtime": true}."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.common.types import ActionResponse, Error, JobResponse
from pysoa.errors import ActionError
from pysoa.server import Server
from pysoa.server._job_steps import has_errors
from pysoa.server.runtime_stats import BUCKET_BOUNDS, MAX_ACTIONS, OTHER, ActionLatencies, RuntimeStats


def test_percentiles_come_from_the_bucket_bounds_and_never_exceed_the_maximum() -> None:
    latencies = ActionLatencies()
    for milliseconds in range(1, 101):  # 1 ms .. 100 ms
        latencies.record(milliseconds / 1000, failed=milliseconds % 10 == 0)
    assert 0.050 <= latencies.percentile(50) <= 0.050 * 1.25
    assert 0.090 <= latencies.percentile(90) <= 0.090 * 1.25
    assert 0.099 <= latencies.percentile(99) <= 0.100
    assert latencies.percentile(100) == pytest.approx(0.100)
    figures = latencies.figures()
    assert figures["count"] == 100
    assert figures["errors"] == 10
    assert figures["max_ms"] == 100.0
    assert figures["mean_ms"] == pytest.approx(50.5)


def test_a_latency_beyond_the_last_bucket_is_kept_and_reported_as_the_maximum() -> None:
    latencies = ActionLatencies()
    latencies.record(BUCKET_BOUNDS[-1] * 2, failed=False)
    assert latencies.percentile(50) == BUCKET_BOUNDS[-1] * 2
    assert ActionLatencies().percentile(50) == 0.0  # nothing recorded


def test_action_names_are_bounded() -> None:
    stats = RuntimeStats()
    ok = ActionResponse("x")
    for index in range(MAX_ACTIONS + 10):
        stats.action_finished(f"action_{index}", 0.001, ok)
    assert len(stats.actions) == MAX_ACTIONS + 1
    assert stats.actions[OTHER].count == 10


def test_jobs_count_as_errors_with_job_or_action_errors() -> None:
    stats = RuntimeStats()
    for response in (
        JobResponse(),
        JobResponse(errors=[Error(code="X", message="x")]),
        JobResponse(actions=[ActionResponse("a", errors=[Error(code="Y", message="y")])]),
    ):
        stats.job_started()
        stats.job_finished(has_errors(response))
    figures = stats.figures()
    assert (figures["jobs"], figures["jobs_with_errors"], figures["in_flight"]) == (3, 2, 0)


def slow(request: Any) -> dict[str, Any]:
    time.sleep(0.02)
    return {}


def fail(request: Any) -> dict[str, Any]:
    raise ActionError(errors=[Error(code="NOPE", message="no")])


class RuntimeServer(Server):
    service_name = "runtime_stats"
    action_class_map = {"slow": slow, "fail": fail}


def test_the_status_action_reports_the_workers_figures_on_request() -> None:
    transport = {"name": "local", "kwargs": {"server_class": RuntimeServer, "server_settings": {}}}
    client = Client({RuntimeServer.service_name: {"transport": transport}})
    started = time.time()
    for _ in range(3):
        client.call_action(RuntimeServer.service_name, "slow", timeout=10)
    client.call_action(RuntimeServer.service_name, "fail", raise_action_errors=False, timeout=10)

    plain = client.call_action(RuntimeServer.service_name, "status", {"verbose": False}, timeout=10).body
    assert "runtime" not in plain  # PySOA's response unless asked
    body = client.call_action(RuntimeServer.service_name, "status", {"verbose": False, "runtime": True}).body
    runtime = body["runtime"]
    assert runtime["jobs"] == 5  # three slow, one fail, the plain status; not this one yet
    assert runtime["jobs_with_errors"] == 1
    assert runtime["in_flight"] == 1  # this status job
    assert started <= runtime["started_at"] <= time.time()  # the local transport builds the server on first use
    assert runtime["uptime_seconds"] >= 0.06
    slow_figures = runtime["actions"]["slow"]
    assert slow_figures["count"] == 3
    assert slow_figures["errors"] == 0
    assert 20 <= slow_figures["p50_ms"] <= slow_figures["max_ms"]
    assert runtime["actions"]["fail"]["errors"] == 1
    assert runtime["actions"]["status"]["count"] == 1


class _SendRecorder:
    """The server's transport for one job: what the figures said when the response was sent."""

    def __init__(self, server: Server, body: dict[str, Any], fail: bool = False) -> None:
        self.server = server
        self.body = body
        self.fail = fail
        self.jobs_at_send: list[int] = []

    def receive_request_message(self) -> tuple[Any, dict[str, Any], dict[str, Any]]:
        return 1, {}, self.body

    def send_response_message(self, request_id: Any, meta: dict[str, Any], body: dict[str, Any]) -> None:
        self.jobs_at_send.append(self.server.runtime_stats.jobs)
        if self.fail:
            raise ConnectionError("the transport went away")


_JOB: dict[str, Any] = {
    "control": {"continue_on_error": False},
    "context": {"correlation_id": "c", "switches": []},
    "actions": [{"action": "fail"}],
}


@pytest.mark.parametrize("fail", [False, True])
def test_a_job_is_counted_once_its_response_is_sent_whether_or_not_the_send_succeeds(fail: bool) -> None:
    # The bookkeeping after a job is not what its caller waits for: it follows the send (one-job-at-a-time worker).
    server = RuntimeServer({"transport": "local"})
    transport = _SendRecorder(server, _JOB, fail)
    server.transport = transport  # type: ignore[assignment]
    if fail:
        with pytest.raises(ConnectionError):
            server.handle_next_request()
    else:
        server.handle_next_request()
    assert transport.jobs_at_send == [0]
    figures = server.runtime_stats.figures()
    assert (figures["jobs"], figures["jobs_with_errors"], figures["in_flight"]) == (1, 1, 0)
