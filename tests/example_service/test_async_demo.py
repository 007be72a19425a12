"""The asyncio example: AsyncClient calls the example service, whose async action calls its own service."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_async_demo_over_redis_with_one_worker() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "example_service.async_demo"], capture_output=True, text=True, timeout=100
    )
    assert result.returncode == 0, result.stderr
    assert "over Redis (1 worker process(es)) with AsyncClient" in result.stdout
    assert '"square": 9801' in result.stdout  # the last of the 100 concurrent calls
    assert '"sum": 30' in result.stdout  # sum_of_squares awaited four calls to its own service
    assert "Service 'example' server shut down" in result.stderr


def test_async_demo_over_the_local_transport() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "example_service.async_demo", "--local"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert '"sum": 30' in result.stdout
