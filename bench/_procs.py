"""Subprocesses of a benchmark run: servers that print READY, drivers that speak JSON lines, and their CPU time."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["BenchProcessError", "Driver", "PortProcess", "ServerProcess", "cpu_seconds"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchProcessError(RuntimeError):
    """A server or driver failed, printed something unexpected or stayed silent; carries the tail of its stderr."""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    # The command name (field 2) may contain spaces; fields 14 and 15 follow its closing parenthesis.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _tail(path: Path, limit: int = 2500) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return text if len(text) <= limit else "..." + text[-limit:]


class _Child:
    """A child process whose stdout is read line by line and whose stderr goes to a log file."""

    def __init__(self, label: str, argv: Sequence[str], env: Mapping[str, str] | None, cwd: Path) -> None:
        self.label = label
        self.argv = list(argv)
        fd, log_name = tempfile.mkstemp(prefix=f"bench-{label}-", suffix=".log")
        self.log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=dict(env) if env is not None else None,
                cwd=cwd,
            )
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        assert self.process.stdout is not None
        self._selector.register(self.process.stdout, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        return self.process.pid

    def fail(self, message: str) -> BenchProcessError:
        return BenchProcessError(f"{self.label}: {message}\ncommand: {' '.join(self.argv)}\n{_tail(self.log_path)}")

    def read_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.fail(f"no output within {timeout:.0f} s")
            if not self._selector.select(remaining):
                continue
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                self.process.wait(5)
                raise self.fail(f"exited with status {self.process.returncode}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def write_line(self, line: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self.fail("went away") from None

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.close()

    def close(self) -> None:
        self._selector.close()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass
        self.log_path.unlink(missing_ok=True)


class ServerProcess(_Child):
    """A server program; ready once it prints ``READY``."""

    def __init__(
        self, label: str, argv: Sequence[str], env: Mapping[str, str] | None, cwd: Path, timeout: float = 60.0
    ) -> None:
        super().__init__(label, argv, env, cwd)
        try:
            while self.read_line(timeout).strip() != "READY":
                pass
        except BaseException:
            self.stop(5)
            raise


class PortProcess(_Child):
    """A program that says nothing when ready (a broker, a router); ready once ``port`` accepts TCP connections."""

    def __init__(
        self,
        label: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: Path,
        port: int,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(label, argv, env, cwd)
        deadline = time.monotonic() + timeout
        try:
            while not _accepts(port):
                if self.process.poll() is not None:
                    raise self.fail(f"exited with status {self.process.returncode} before listening on {port}")
                if time.monotonic() > deadline:
                    raise self.fail(f"not listening on port {port} within {timeout:.0f} s")
                time.sleep(0.05)
        except BaseException:
            self.stop(5)
            raise


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Driver(_Child):
    """A client program speaking the driver protocol (bench/workloads/_wl_common.py).

    Construction only starts the process, so that several can start at once; :meth:`wait_hello` waits until it is
    connected.
    """

    hello: dict[str, Any]

    def wait_hello(self, timeout: float = 60.0) -> None:
        try:
            self.hello = self._expect("hello", timeout)
        except BaseException:
            self.stop(5)
            raise

    def _expect(self, key: str, timeout: float) -> Any:
        line = self.read_line(timeout)
        try:
            message = json.loads(line)
        except ValueError:
            raise self.fail(f"printed {line[:300]!r}, not JSON") from None
        if "error" in message:
            raise self.fail(f"failed: {message['error']}")
        if key not in message:
            raise self.fail(f"sent {line[:300]!r}, expected {key!r}")
        return message[key]

    def prepare(self, command: Mapping[str, Any], timeout: float = 120.0) -> None:
        """Send a measured command and wait until its warm-up is done."""
        self.write_line(json.dumps(dict(command)))
        self.prepare_wait(timeout)

    def prepare_wait(self, timeout: float = 120.0) -> None:
        self._expect("ready", timeout)

    def go(self) -> None:
        self.write_line("go")

    def result(self, timeout: float) -> dict[str, Any]:
        result: dict[str, Any] = self._expect("result", timeout)
        return result

    def quit(self) -> None:
        if self.process.poll() is None:
            try:
                self.write_line(json.dumps({"op": "quit"}))
                self.process.wait(10)
            except (BenchProcessError, subprocess.TimeoutExpired):
                pass
        self.stop(5)
