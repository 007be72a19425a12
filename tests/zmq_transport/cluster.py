"""Real processes for the ZeroMQ tests: a router and worker subprocesses serving :mod:`.service`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pysoa.client import Client
from soa_zmq._settings import server_options
from soa_zmq.router import stop_router

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICE = "zmqtest"

# Fast heartbeats, so that dead workers are noticed within a second, and short receive timeouts,
# so that a worker stops soon after SIGTERM.
FAST: dict[str, Any] = {
    "heartbeat_interval_in_seconds": 0.2,
    "heartbeat_liveness": 3,
}
WORKER_DEFAULTS: dict[str, Any] = {**FAST, "receive_timeout_in_seconds": 0.3}


def short_ipc_dir() -> str:
    """A fresh directory with a short path (ipc:// paths are limited to 107 bytes)."""
    return tempfile.mkdtemp(prefix="soazmq-", dir="/tmp")


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Cluster:
    """A router and workers for one service endpoint, all real processes, cleaned up by :meth:`stop`."""

    def __init__(self, log_dir: Path, endpoint: str, server_kwargs: dict[str, Any] | None = None) -> None:
        self.log_dir = log_dir
        self.endpoint = endpoint
        self.server_kwargs: dict[str, Any] = {"endpoint": endpoint, **WORKER_DEFAULTS, **(server_kwargs or {})}
        if endpoint.startswith("tcp://"):
            # Keep what a tcp service would put in the temporary directory in this test's directory.
            self.server_kwargs.setdefault("backend_endpoint", f"ipc://{log_dir}/workers")
            self.server_kwargs.setdefault("router_lock_file", str(log_dir / "router.lock"))
        self.options = server_options(self.server_kwargs)
        self.router: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.clients: list[Client] = []
        self._count = 0

    # --- processes -----------------------------------------------------------------------------------

    def _log(self, name: str) -> Any:
        return open(self.log_dir / f"{name}.log", "ab")

    def start_router(self) -> subprocess.Popen[bytes]:
        with self._log("router") as log:
            self.router = subprocess.Popen(
                [sys.executable, "-m", "soa_zmq.router", "--kwargs", json.dumps(self.server_kwargs)],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(lambda: self.router_running(), 10, "the router to take its lock")
        return self.router

    def router_running(self) -> bool:
        from soa_zmq._election import router_is_running

        return router_is_running(self.options.lock_file)

    def add_worker(self, **overrides: Any) -> subprocess.Popen[bytes]:
        self._count += 1
        kwargs = {"role": "worker", **self.server_kwargs, **overrides}
        with self._log(f"worker-{self._count}") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "tests.zmq_transport.service", json.dumps(kwargs)],
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(worker)
        return worker

    def stop_worker(self, worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        worker.send_signal(sig)
        worker.wait(timeout=10)

    def stop(self) -> None:
        for client in self.clients:
            for handler in client.handlers.values():
                handler.transport.close()
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=10)
        if self.router is not None and self.router.poll() is None:
            self.router.terminate()
            try:
                self.router.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.router.kill()
                self.router.wait()
        # A router a worker started (auto role) is not our child: stop it through its lock file.
        stop_router(self.options.lock_file)

    # --- clients -------------------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> Client:
        client_kwargs = {"endpoint": self.endpoint.replace("*", "127.0.0.1"), **FAST, **kwargs}
        client = Client({SERVICE: {"transport": {"name": "zmq", "kwargs": client_kwargs}}})
        self.clients.append(client)
        return client

    def wait_for_workers(self, client: Client, pids: Iterable[int], timeout: float = 15.0) -> None:
        """Call until every worker in ``pids`` has answered (the router rotates through idle workers)."""
        missing = set(pids)
        deadline = time.monotonic() + timeout
        while missing:
            if time.monotonic() > deadline:
                raise AssertionError(f"Workers {sorted(missing)} never answered; see {self.log_dir}")
            try:
                missing.discard(client.call_action(SERVICE, "echo", {}, timeout=1).body["pid"])
            except Exception:
                time.sleep(0.05)


def worker_pid_file(directory: Path) -> Path:
    return directory / f"pid-{threading.get_ident()}-{time.monotonic_ns()}"


def read_pid(path: Path, timeout: float = 10.0) -> int:
    wait_until(lambda: path.exists() and path.read_text().strip().isdigit(), timeout, f"{path} to name a pid")
    return int(path.read_text())


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
