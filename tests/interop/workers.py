"""soa-core server worker processes for the interop tests (real processes, as a deployment runs them).

Each worker is ``python -m pysoa.test.contract.worker module:ServerClass '<settings json>'``, which prints
``READY`` once the server is set up and serves until SIGTERM. stderr goes to a file (a pipe nobody drains could
block a worker that logs a lot) and is kept for failure messages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.pysoa149.harness import ready_problem

__all__ = ["SoaCoreWorker", "WorkerError", "start_soacore_worker"]

REPO = Path(__file__).resolve().parents[2]


class WorkerError(RuntimeError):
    """A worker did not start; the message carries its stderr."""


class SoaCoreWorker:
    """One running worker process; :meth:`stop` ends it by its pid."""

    def __init__(self, process: subprocess.Popen[bytes], server_path: str, log_path: Path) -> None:
        self.process = process
        self.server_path = server_path
        self.log_path = log_path
        self._signalled = False

    def signal_stop(self) -> None:
        """Send SIGTERM once (a second one would force the worker down): stop several workers at once."""
        if not self._signalled and self.process.poll() is None:
            self._signalled = True
            self.process.send_signal(signal.SIGTERM)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; return the exit status."""
        self.signal_stop()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start_soacore_worker(
    server_path: str, transport_kwargs: dict[str, Any], log_dir: Path, ready_timeout: float = 30.0
) -> SoaCoreWorker:
    """Serve ``server_path`` (``module:Class``) over the ``redis`` transport with ``transport_kwargs``."""
    settings = {
        "transport": {"name": "redis", "kwargs": transport_kwargs},
        "harakiri": {"timeout": 0, "shutdown_grace": 5},
    }
    fd, log_name = tempfile.mkstemp(prefix="soacore-worker-", suffix=".log", dir=log_dir)
    with os.fdopen(fd, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "pysoa.test.contract.worker", server_path, json.dumps(settings)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
    worker = SoaCoreWorker(process, server_path, Path(log_name))
    problem = ready_problem(process, ready_timeout)
    if problem is not None:
        worker.stop(timeout=5)
        raise WorkerError(f"{server_path}: {problem}\nstderr:\n{worker.logs()[-3000:]}")
    return worker
