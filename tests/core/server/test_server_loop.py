"""The server loop in a real process: harakiri, graceful SIGTERM, heartbeat file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.server.spool_transport import read_response, write_request

REPO = Path(__file__).resolve().parents[3]


class Worker:
    def __init__(self, spool: Path, harakiri: int = 0, heartbeat: str | None = None) -> None:
        args = [sys.executable, "-m", "tests.core.server.spool_service", str(spool), str(harakiri)]
        if heartbeat:
            args.append(heartbeat)
        self.process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "READY", line + self.process.stderr.read() if self.process.stderr else ""

    def wait(self, timeout: float = 10) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()


def test_harakiri_answers_action_timeout_and_stops_the_worker(spool: Path, workers: list[Worker]) -> None:
    worker = Worker(spool, harakiri=1)
    workers.append(worker)
    write_request(str(spool), 1, [{"action": "stuck"}, {"action": "slow", "body": {"seconds": 0}}])
    response = read_response(str(spool), 1)
    assert response["errors"] == []
    assert len(response["actions"]) == 1  # nothing runs after harakiri, even the remaining actions
    (error,) = response["actions"][0]["errors"]
    assert error["code"] == "ACTION_TIMEOUT"
    assert error["message"] == 'The action "stuck" ran for too long and had to be interrupted.'
    code, out, err = worker.wait()
    assert code == 0
    assert "EXITED" in out
    assert "triggering harakiri" in err


def wait_for_file(path: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear within {timeout} s"
        time.sleep(0.02)


def test_sigterm_lets_the_running_action_finish_and_answer(spool: Path, tmp_path: Path, workers: list[Worker]) -> None:
    worker = Worker(spool)
    workers.append(worker)
    started = tmp_path / "started"
    write_request(str(spool), 1, [{"action": "slow", "body": {"seconds": 1.0, "marker": str(started)}}])
    wait_for_file(started)
    worker.process.send_signal(signal.SIGTERM)
    # Sent while the worker still runs request 1: a worker that went on serving after the signal would take it.
    write_request(str(spool), 2, [{"action": "slow", "body": {"seconds": 0}}])
    assert worker.process.poll() is None
    response = read_response(str(spool), 1)
    assert response["actions"][0]["body"] == {"slept": 1.0}
    code, out, _err = worker.wait()
    assert code == 0
    assert "EXITED" in out
    # The request sent after the shutdown began is left for another worker.
    assert (spool / "in" / "000002.json").exists()
    assert not (spool / "out" / "2.json").exists()


def test_an_action_that_swallows_harakiri_is_ended_by_the_grace_period(
    spool: Path, tmp_path: Path, workers: list[Worker]
) -> None:
    worker = Worker(spool, harakiri=1)
    workers.append(worker)
    started = tmp_path / "started"
    write_request(str(spool), 1, [{"action": "stubborn", "body": {"marker": str(started)}}])
    wait_for_file(started)
    code, _out, err = worker.wait(timeout=15)  # harakiri after 1 s, then 2 s of grace
    assert code == 1
    assert "triggering harakiri with grace period of 2 seconds" in err
    assert "Graceful shutdown failed after 2 seconds; exiting now" in err


def test_heartbeat_file_appears_refreshes_and_disappears(spool: Path, tmp_path: Path, workers: list[Worker]) -> None:
    template = str(tmp_path / "hb-{{pid}}.txt")
    worker = Worker(spool, heartbeat=template)
    workers.append(worker)
    path = tmp_path / f"hb-{worker.process.pid}.txt"
    appear_by = time.monotonic() + 5
    while not path.exists() and time.monotonic() < appear_by:
        time.sleep(0.02)  # the service prints READY from setup(), just before it creates the file
    assert path.exists()
    first = float(path.read_text())
    assert abs(first - time.time()) < 30
    deadline = time.monotonic() + 8
    while float(path.read_text()) == first and time.monotonic() < deadline:
        time.sleep(0.2)
    assert float(path.read_text()) > first  # refreshed while idle
    worker.process.send_signal(signal.SIGTERM)
    worker.wait()
    assert not path.exists()


def test_a_second_different_signal_right_after_the_first_is_ignored(
    spool: Path, tmp_path: Path, workers: list[Worker]
) -> None:
    worker = Worker(spool)
    workers.append(worker)
    started = tmp_path / "started"
    write_request(str(spool), 1, [{"action": "slow", "body": {"seconds": 1.0, "marker": str(started)}}])
    wait_for_file(started)
    os.kill(worker.process.pid, signal.SIGINT)
    os.kill(worker.process.pid, signal.SIGTERM)  # Ctrl+C plus a forwarded TERM: still one graceful stop
    assert read_response(str(spool), 1)["actions"][0]["body"] == {"slept": 1.0}
    code, _out, _err = worker.wait()
    assert code == 0
