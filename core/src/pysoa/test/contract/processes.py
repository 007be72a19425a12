"""Worker processes that serve a server class over a real transport, for a suite's ``connect`` fixture."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

from pysoa.server.server import Server

__all__ = ["ServerProcesses"]


class ServerProcesses:
    """Starts ``count`` worker processes per server class, on first use, and stops them all.

    ``settings_for(server_class)`` returns the server settings of the workers (JSON-serialisable:
    the transport named by plugin name, ``{'name': ..., 'kwargs': {...}}``). Each worker runs
    ``python -m pysoa.test.contract.worker``; :meth:`start` returns once every worker reports it
    is serving, and raises :class:`RuntimeError` with the worker's standard error when one fails
    to start. The server class must be importable by the workers (defined at a module's top level).
    """

    def __init__(
        self, settings_for: Callable[[type[Server]], Mapping[str, Any]], count: int = 2, cwd: str | None = None
    ) -> None:
        self.settings_for = settings_for
        self.count = count
        self.cwd = cwd
        self.processes: dict[str, list[subprocess.Popen[str]]] = {}

    def start(self, server_class: type[Server]) -> None:
        """Start the workers for ``server_class`` unless they are running; wait until they serve."""
        path = f"{server_class.__module__}:{server_class.__qualname__}"
        if path in self.processes:
            return
        settings = json.dumps(dict(self.settings_for(server_class)))
        started = [
            subprocess.Popen(
                [sys.executable, "-m", "pysoa.test.contract.worker", path, settings],
                cwd=self.cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(self.count)
        ]
        self.processes[path] = started
        for process in started:
            assert process.stdout is not None
            line = process.stdout.readline()
            if line.strip() != "READY":
                process.kill()
                _, stderr = process.communicate()
                raise RuntimeError(f"A worker for {path} did not start: {line!r}\n{stderr}")

    def stop(self) -> None:
        """Stop every worker (``SIGTERM``, then ``SIGKILL`` after 10 s)."""
        running = [process for processes in self.processes.values() for process in processes]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        self.processes.clear()
