"""The Prometheus endpoint of a supervisor with two forked workers, scraped over HTTP on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pysoa.client import Client
from soa_otel.prometheus import collect, render
from tests.redis_transport.servers import RedisProcess, free_port, start_redis

from .metered_service import SERVICE

pytestmark = [pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
SERVE_OPTIONS = ("--settings", "tests.otel.metered_service", "--workers", "2")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text: str = response.read().decode()
        return text


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, value = line.rsplit(" ", 1)
        if series.split("{", 1)[0] != name:
            continue
        if all(f'{key}="{wanted}"' in series for key, wanted in labels.items()):
            total += float(value)
    return total


def wait_until(condition: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[tuple[RedisProcess, int, Path, subprocess.Popen[bytes]]]:
    redis = start_redis(tmp_path / "redis")
    port = free_port()
    directory = tmp_path / "metrics"
    env = {
        **os.environ,
        "SOA_TEST_REDIS_URL": redis.url,
        "SOA_TEST_METRICS_DIR": str(directory),
        "SOA_TEST_METRICS_PORT": str(port),
    }
    with (tmp_path / "supervisor.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pysoa", "serve", "tests.otel.metered_service:MeteredServer", *SERVE_OPTIONS],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield redis, port, directory, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        from soa_redis._backend import reset_backends

        reset_backends()
        redis.stop()


def test_one_endpoint_sums_the_metrics_of_every_forked_worker(
    supervisor: tuple[RedisProcess, int, Path, subprocess.Popen[bytes]],
) -> None:
    redis, port, directory, process = supervisor

    def endpoint_up() -> bool:
        try:
            scrape(port)
        except OSError:
            assert process.poll() is None, (directory.parent / "supervisor.log").read_text()
            return False
        return True

    wait_until(endpoint_up, "the metrics endpoint")
    client = Client({SERVICE: {"transport": {"name": "redis", "kwargs": {"url": redis.url}}}})
    # Two slow jobs at once: each worker takes one, so both workers have something to report.
    results = client.call_actions_parallel(SERVICE, [{"action": "sleep", "body": {"seconds": 0.5}}] * 2, timeout=20)
    pids = {result.body["pid"] for result in results}
    assert len(pids) == 2
    for _ in range(3):
        client.call_action(SERVICE, "hello", timeout=20)
    client.call_action(SERVICE, "fail", raise_action_errors=False, timeout=20)
    client.close()

    service = {"rpc_service": SERVICE}

    def all_counted() -> bool:
        return sample(scrape(port), "rpc_server_duration_seconds_count", **service) == 6

    wait_until(all_counted, "6 jobs in the scrape")
    text = scrape(port)
    assert "# TYPE rpc_server_duration_seconds histogram" in text
    assert sample(text, "soa_server_action_duration_seconds_count", rpc_method="hello", **service) == 3
    assert sample(text, "soa_server_action_duration_seconds_count", rpc_method="sleep", **service) == 2
    assert sample(text, "soa_server_errors_total", rpc_method="fail", error_type="NOPE", **service) == 1
    assert f'soa_server_jobs_in_flight{{rpc_service="{SERVICE}",' in text
    assert sample(text, "soa_server_jobs_in_flight", **service) == 0
    assert sample(text, "soa_server_queue_wait_seconds_count", **service) == 0  # the client has no soa-otel
    # Every worker's file was added in: the sleeps ran in two processes.
    assert {path.name for path in directory.glob("worker-*.json")} >= {f"worker-{pid}.json" for pid in pids}
    bucket = sample(text, "rpc_server_duration_seconds_bucket", le="+Inf", **service)
    assert bucket == 6

    # The endpoint ends with the supervisor.
    process.send_signal(signal.SIGTERM)
    process.wait(20)

    def endpoint_down() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) != 0

    wait_until(endpoint_down, "the endpoint to stop with the supervisor")


def test_a_dead_workers_counts_stay_but_its_in_flight_jobs_do_not(tmp_path: Path) -> None:
    import json

    dead_pid = 2**22 + 12345  # above the usual pid_max: no such process
    point = {"attributes": {"rpc.service": "s"}, "value": 3}
    for pid in (os.getpid(), dead_pid):
        document = {
            "pid": pid,
            "metrics": [
                {
                    "name": "soa.server.errors",
                    "description": "d",
                    "unit": "{error}",
                    "type": "counter",
                    "points": [point],
                },
                {
                    "name": "soa.server.jobs.in_flight",
                    "description": "d",
                    "unit": "{job}",
                    "type": "gauge",
                    "points": [point],
                },
            ],
        }
        (tmp_path / f"worker-{pid}.json").write_text(json.dumps(document))
    text = render(collect(tmp_path))
    assert sample(text, "soa_server_errors_total", rpc_service="s") == 6
    assert sample(text, "soa_server_jobs_in_flight", rpc_service="s") == 3


def test_labels_are_escaped(tmp_path: Path) -> None:
    import json

    point = {"attributes": {"rpc.method": 'a"b\\c\nd'}, "value": 1}
    metric = {"name": "x.y", "description": "d", "unit": "", "type": "counter", "points": [point]}
    (tmp_path / f"worker-{os.getpid()}.json").write_text(json.dumps({"pid": os.getpid(), "metrics": [metric]}))
    assert 'x_y_total{rpc_method="a\\"b\\\\c\\nd"} 1' in render(collect(tmp_path))
