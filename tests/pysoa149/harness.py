"""Drive the PySOA 1.4.9 peer programs from the dev venv: start the peer server, run the peer client.

The peers run in the interop venv (env.py) as subprocesses. They are started with ``-E -s`` so no PYTHONPATH or
user site of the dev environment can slip soa-core's own ``pysoa`` package into the old library's process.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from . import tagged_json
from .env import ensure_pysoa149_python

__all__ = [
    "PEER_CLIENT",
    "PEER_SERVER",
    "PeerError",
    "PeerServer",
    "peer_command",
    "run_peer_client",
    "start_peer_server",
]

PEER_DIR = Path(__file__).resolve().parent
PEER_SERVER = PEER_DIR / "peer_server.py"
PEER_CLIENT = PEER_DIR / "peer_client.py"


class PeerError(RuntimeError):
    """A peer program failed to start, answer or stop; the message carries the tail of its output."""


def peer_command(script: Path, *args: str) -> list[str]:
    """The argv that runs ``script`` (a peer program) with the interop venv's python."""
    return [os.fspath(ensure_pysoa149_python()), "-E", "-s", os.fspath(script), *args]


def _tail(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


class PeerServer:
    """A running peer_server.py process. Stop it with :meth:`stop` or use it as a context manager."""

    def __init__(self, process: subprocess.Popen[bytes], service: str, redis_port: int, log_path: Path) -> None:
        self.process = process
        self.service = service
        self.redis_port = redis_port
        self.log_path = log_path
        self.returncode: int | None = None
        self._final_logs: str | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def logs(self) -> str:
        """Everything the server wrote to stderr so far (its logging goes there); kept after :meth:`stop`."""
        if self._final_logs is not None:
            return self._final_logs
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; return the exit status (0 after a clean stop)."""
        if self.returncode is not None:
            return self.returncode
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._final_logs = self.logs()
        self.log_path.unlink(missing_ok=True)
        self.returncode = self.process.returncode
        return self.returncode

    def __enter__(self) -> PeerServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_peer_server(
    redis_port: int,
    *,
    service: str = "pysoa149",
    redis_host: str = "127.0.0.1",
    serializer: str = "msgpack",
    chunk_messages_larger_than_bytes: int | None = None,
    maximum_message_size_in_bytes: int | None = None,
    receive_timeout: int = 1,
    log_level: str = "WARNING",
    ready_timeout: float = 60.0,
) -> PeerServer:
    """Start peer_server.py against the Redis at ``redis_host:redis_port`` and wait for its READY line.

    Raises :class:`PeerError` (after killing the process) if it exits or stays silent for ``ready_timeout`` s.
    """
    args = [
        "--redis-host",
        redis_host,
        "--redis-port",
        str(redis_port),
        "--service",
        service,
        "--serializer",
        serializer,
        "--receive-timeout",
        str(receive_timeout),
        "--log-level",
        log_level,
    ]
    if chunk_messages_larger_than_bytes is not None:
        args += ["--chunk-messages-larger-than-bytes", str(chunk_messages_larger_than_bytes)]
    if maximum_message_size_in_bytes is not None:
        args += ["--maximum-message-size-in-bytes", str(maximum_message_size_in_bytes)]
    command = peer_command(PEER_SERVER, *args)
    # stderr goes to a file: a pipe nobody drains would block a chatty server.
    fd, log_name = tempfile.mkstemp(prefix=f"pysoa149-{service}-", suffix=".log")
    with os.fdopen(fd, "wb") as log_file:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file)
    server = PeerServer(process, service, redis_port, Path(log_name))
    problem = ready_problem(process, ready_timeout)
    if problem is not None:
        server.stop(timeout=5)
        raise PeerError(f"peer server {problem}\ncommand: {' '.join(command)}\nstderr:\n{_tail(server.logs())}")
    return server


def ready_problem(process: subprocess.Popen[bytes], timeout: float) -> str | None:
    """Wait until ``process`` prints a ``READY`` line; ``None`` when it did, else what went wrong.

    Shared by the PySOA peers and the interop tests' soa-core workers.
    """
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffered = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"no READY within {timeout:.0f} s"
            if not selector.select(remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                process.wait(5)
                return f"exited with status {process.returncode} before READY"
            buffered += chunk
            if any(line.strip() == b"READY" for line in buffered.splitlines()):
                return None


def run_peer_client(
    redis_port: int,
    calls: Sequence[dict[str, Any]],
    *,
    service: str = "pysoa149",
    redis_host: str = "127.0.0.1",
    protocol_version: int = 3,
    serializer: str = "msgpack",
    maximum_message_size_in_bytes: int | None = None,
    receive_timeout: int = 5,
    timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """Run peer_client.py with ``calls`` (see its docstring) and return its results, typed values decoded.

    ``service``, ``protocol_version`` and ``serializer`` are the defaults for specs that do not set their own.
    Raises :class:`PeerError` if the client process fails or prints something other than one result per call.
    """
    args = [
        "--redis-host",
        redis_host,
        "--redis-port",
        str(redis_port),
        "--service",
        service,
        "--protocol-version",
        str(protocol_version),
        "--serializer",
        serializer,
        "--receive-timeout",
        str(receive_timeout),
    ]
    if maximum_message_size_in_bytes is not None:
        args += ["--maximum-message-size-in-bytes", str(maximum_message_size_in_bytes)]
    command = peer_command(PEER_CLIENT, *args)
    try:
        done = subprocess.run(
            command, input=tagged_json.dumps(list(calls)).encode(), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode(errors="replace")
        raise PeerError(f"peer client did not finish within {timeout:.0f} s\nstderr:\n{_tail(stderr)}") from None
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise PeerError(f"peer client exited with status {done.returncode}\nstderr:\n{_tail(stderr)}")
    try:
        results = tagged_json.loads(done.stdout)
    except ValueError as exc:
        stdout = _tail(done.stdout.decode(errors="replace"))
        raise PeerError(f"peer client printed no tagged JSON ({exc}): {stdout}") from None
    if not isinstance(results, list) or len(results) != len(calls):
        raise PeerError(f"peer client gave {results!r} for {len(calls)} calls\nstderr:\n{_tail(stderr)}")
    return results
