"""Real processes for the reliability tests: private Redis servers, worker subprocesses, a silent listener.

Timing bounds in these tests are generous (a shared, loaded machine) but two-sided: a call never
ends before its deadline, and ends at most a little after it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from soa_redis._backend import reset_backends
from tests.redis_transport.servers import HOST, RedisProcess, SentinelCluster, start_redis, start_sentinel_cluster

from .service import SERVICE

REPO = Path(__file__).resolve().parents[2]

# A call may end this much after its deadline (the target is 0.1 s; the rest is for a
# machine shared by many busy processes). It may never end before it.
LATE = 0.25


def wait_for(condition: Callable[[], Any], timeout: float, what: str | Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what if isinstance(what, str) else what()}")
        time.sleep(0.02)


def timed(call: Callable[[], Any]) -> tuple[float, Any, BaseException | None]:
    """``(seconds taken, result, exception)`` of ``call()``."""
    started = time.monotonic()
    try:
        result = call()
    except Exception as exc:
        return time.monotonic() - started, None, exc
    return time.monotonic() - started, result, None


class Worker:
    """One worker process serving :mod:`tests.reliability.service` over Redis, with its log."""

    def __init__(self, log_path: Path, transport: dict[str, Any], env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            "RELIABILITY_TRANSPORT": json.dumps(transport),
            **(env or {}),
        }
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.service", "-s", "tests.reliability.settings"],
                cwd=REPO,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, number: int) -> None:
        os.kill(self.pid, number)

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"Worker {self.pid} did not exit in {timeout} s; log:\n{self.log()}") from None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture(autouse=True)
def _fresh_backends() -> Iterator[None]:
    yield
    reset_backends()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    # DEBUG SLEEP stalls it on demand (Redis 7 refuses DEBUG unless enabled).
    server = start_redis(tmp_path / "redis", "--enable-debug-command", "yes")
    yield server
    if server.alive:
        os.kill(server.pid, signal.SIGCONT)  # a test may have frozen it
    server.stop()


@pytest.fixture
def sentinel_cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    cluster = start_sentinel_cluster(tmp_path / "sentinel")
    yield cluster
    cluster.stop()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """``start_worker(transport_kwargs, env=...)``: a worker process, killed at the end of the test."""
    started: list[Worker] = []

    def start(transport: dict[str, Any], env: dict[str, str] | None = None) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(started) + 1}.log", transport, env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


def redis_client(transport: dict[str, Any]) -> Client:
    return Client({SERVICE: {"transport": {"name": "redis", "kwargs": transport}}})


def wait_until_served(client: Client, worker: Worker, timeout: float = 20.0) -> None:
    """Call ``echo`` until ``worker`` answers it (the worker is up and reading its queue)."""

    def answered() -> bool:
        try:
            return bool(client.call_action(SERVICE, "echo", {}, timeout=0.5).body["pid"] == worker.pid)
        except Exception:
            if not worker.alive:
                raise AssertionError(f"Worker {worker.pid} exited; log:\n{worker.log()}") from None
            return False

    wait_for(answered, timeout, lambda: f"worker {worker.pid} to serve; log:\n{worker.log()}")


def answers_ping(server: RedisProcess, within: float = 0.05) -> bool:
    """Whether Redis answers a PING within ``within`` seconds (a raw socket: no client retries)."""
    try:
        with socket.create_connection((server.host, server.port), timeout=within) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class SilentListener:
    """A TCP listener that accepts connections and never answers: a Redis that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server((HOST, 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def unreachable_port() -> Iterator[int]:
    """A loopback port where a TCP connect hangs: its listener's backlog is full and never accepted."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    filler = socket.create_connection((HOST, port), timeout=1)  # takes the one backlog slot
    yield port
    filler.close()
    listener.close()


@pytest.fixture
def silent_listener() -> Iterator[SilentListener]:
    listener = SilentListener()
    yield listener
    listener.close()
