"""The README's main command: the demo starts the example service and shows every call style."""

from __future__ import annotations

import subprocess
import sys

import pytest

CALL_STYLES = ["call_action(", "call_actions (", "call_actions_parallel", "call_jobs_parallel", "a validation error"]


@pytest.mark.slow
def test_demo_over_redis_with_two_workers() -> None:
    result = subprocess.run([sys.executable, "-m", "example_service.demo"], capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    assert "answering over Redis with 2 worker processes" in result.stdout
    for style in CALL_STYLES:
        assert style in result.stdout
    assert '"square": 49' in result.stdout
    assert '"correlation_id": "demo-correlation-id"' in result.stdout  # call_service chained the context
    assert '"square": 144' in result.stdout  # the soa call command
    assert "All workers stopped" in result.stderr


def test_demo_over_the_local_transport() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "example_service.demo", "--local"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for style in CALL_STYLES:
        assert style in result.stdout


def test_demo_over_zeromq_needs_no_other_server() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "example_service.demo", "--transport", "zmq"],
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0, result.stderr
    assert "answering over ZeroMQ with 2 worker processes" in result.stdout
    for style in CALL_STYLES:
        assert style in result.stdout
    assert '"correlation_id": "demo-correlation-id"' in result.stdout
    assert '"square": 144' in result.stdout
    assert "All workers stopped" in result.stderr
