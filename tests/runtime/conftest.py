"""Fixtures for the runtime tests: services started as real process trees, and calls over the file spool."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.spool import read_response, write_request

REPO = Path(__file__).resolve().parents[2]
_request_ids = itertools.count(1)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str | Callable[[], str] = "it") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds (``what`` says why)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what() if callable(what) else what}")
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Service:
    """One service process tree (started in its own process group), its log, and its spool and heartbeat dirs."""

    def __init__(self, directory: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.directory = directory
        self.spool = directory / "spool"
        self.heartbeat_dir = directory / "heartbeats"
        self.heartbeat_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "service.log"
        environment = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "RUNTIME_SPOOL": str(self.spool),
            "RUNTIME_HEARTBEAT": str(self.heartbeat_dir / "hb-{{fid}}-{{pid}}.txt"),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                args, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def heartbeats(self) -> dict[int, int]:
        """``{fork id: pid}`` of the workers whose heartbeat files exist."""
        found = {}
        for path in self.heartbeat_dir.glob("hb-*-*.txt"):
            match = re.fullmatch(r"hb-(\d+|\{\{fid\}\})-(\d+)\.txt", path.name)
            if match:
                fid = int(match.group(1)) if match.group(1).isdigit() else 0
                found[fid] = int(match.group(2))
        return found

    def wait_for_workers(self, count: int, timeout: float = 10.0) -> dict[int, int]:
        return self.wait_for_heartbeats(lambda beats: len(beats) == count, timeout, f"{count} heartbeat files")

    def wait_for_heartbeats(
        self, condition: Callable[[dict[int, int]], bool], timeout: float = 10.0, what: str = "heartbeat files"
    ) -> dict[int, int]:
        """Poll until ``condition(heartbeats)`` holds; return those heartbeats."""

        def check() -> dict[int, int] | None:
            beats = self.heartbeats()
            return beats if beats and condition(beats) else None

        result: dict[int, int] = wait_for(check, timeout, lambda: f"{what}; log:\n{self.log()}")
        return result

    def call(self, action: str, body: dict[str, Any] | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """Send one request through the spool and return the job response dict."""
        request_id = next(_request_ids)
        write_request(str(self.spool), request_id, [{"action": action, "body": body or {}}])
        try:
            return read_response(str(self.spool), request_id, timeout)
        except TimeoutError:
            raise AssertionError(f"No response to {action}; log:\n{self.log()}") from None

    def send(self, signal_number: int) -> None:
        os.kill(self.pid, signal_number)

    def wait(self, timeout: float = 15.0) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"The service did not exit in {timeout} s; log:\n{self.log()}") from None

    def cleanup(self) -> None:
        # Everything this test started is in the process group, however the code under test behaved.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``start_service(*args, env=...)`` runs ``python *args`` from the repository as a :class:`Service`."""
    started: list[Service] = []
    counter = itertools.count(1)

    def start(*args: str, env: dict[str, str] | None = None, python: bool = True) -> Service:
        command = [sys.executable, *args] if python else list(args)
        service = Service(tmp_path / f"service-{next(counter)}", command, env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.cleanup()


STANDALONE = ("-m", "tests.runtime.standalone", "-s", "tests.runtime.settings")
