"""A tiny private ``redis-server`` for the PySOA 1.4.9 peer self-tests (never the system Redis on 6379).

Kept minimal on purpose: the Redis-transport test suite owns the full fixtures (replicas, Sentinel, TLS).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["PrivateRedis", "private_redis_server"]


@dataclass
class PrivateRedis:
    host: str
    port: int
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def private_redis_server(start_timeout: float = 10.0) -> Iterator[PrivateRedis]:
    """Run a throw-away redis-server on a free loopback port (no persistence); stop it by pid on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (scripts/ensure-redis.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="pysoa149-redis-") as workdir:
        # Another process can take the free port between our probe and redis's bind; then try another one.
        for _attempt in range(5):
            port = _free_port()
            command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            command += ["--dir", workdir, "--daemonize", "no", "--loglevel", "warning"]
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + start_timeout
            while process.poll() is None and time.monotonic() < deadline and not _pings(port):
                time.sleep(0.05)
            if process.poll() is None and _pings(port):
                break
            _stop(process)
        else:
            raise RuntimeError("could not start a private redis-server")
        try:
            yield PrivateRedis("127.0.0.1", port, process)
        finally:
            _stop(process)
