"""The forking supervisor with real worker processes: respawn, graceful stop, harakiri, crash loops, SIGHUP."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.conftest import STANDALONE, Service, pid_alive, wait_for
from tests.runtime.spool import write_request


def test_each_worker_has_a_heartbeat_file_that_refreshes_and_disappears_at_stop(
    start_service: Callable[..., Service],
) -> None:
    service = start_service(*STANDALONE, "-f", "2")
    workers = service.wait_for_workers(2)
    assert sorted(workers) == [1, 2]  # {{fid}} is the fork id
    assert service.pid not in workers.values()  # {{pid}} is each worker's own pid
    path = service.heartbeat_dir / f"hb-1-{workers[1]}.txt"
    first = float(path.read_text())
    wait_for(lambda: float(path.read_text()) > first, 10, "a refreshed heartbeat")  # idle workers beat too
    service.send(signal.SIGTERM)
    assert service.wait() == 0
    assert service.heartbeats() == {}
    assert not any(pid_alive(pid) for pid in workers.values())
    assert "All workers stopped; supervisor exiting" in service.log()


def test_a_killed_worker_is_respawned_and_the_service_goes_on(start_service: Callable[..., Service]) -> None:
    service = start_service(*STANDALONE, "-f", "2")
    old = service.wait_for_workers(2)
    os.kill(old[1], signal.SIGKILL)
    new = service.wait_for_heartbeats(lambda b: len(b) == 2 and b[1] != old[1], what="worker #1 to be re-spawned")
    assert new[2] == old[2]
    # The dead worker could not remove its heartbeat file; the supervisor did.
    assert not (service.heartbeat_dir / f"hb-1-{old[1]}.txt").exists()
    answered_by = {service.call("whoami")["actions"][0]["body"]["pid"] for _ in range(6)}
    assert answered_by <= {new[1], new[2]}
    log = service.log()
    assert f"Worker #1 (pid {old[1]}) was killed by SIGKILL unexpectedly" in log
    assert "Re-spawning failed worker #1" in log


@pytest.mark.parametrize(
    ("signal_number", "to_group"),
    [
        (signal.SIGTERM, False),  # kill <supervisor>, docker stop, systemd KillMode=mixed
        (signal.SIGTERM, True),  # systemd's default KillMode=control-group: every process gets it
        (signal.SIGINT, True),  # Ctrl+C in a terminal
    ],
)
def test_a_stop_signal_lets_the_running_action_finish_and_answer_before_exit(
    start_service: Callable[..., Service], tmp_path: Path, signal_number: int, to_group: bool
) -> None:
    service = start_service(*STANDALONE, "-f", "2")
    workers = service.wait_for_workers(2)
    marker = tmp_path / "running"
    result: dict[str, Any] = {}
    caller = threading.Thread(
        target=lambda: result.update(service.call("slow", {"seconds": 1.5, "marker": str(marker)}))
    )
    caller.start()
    wait_for(marker.exists, 10, "the action to start")
    if to_group:
        os.killpg(service.pid, signal_number)
    else:
        service.send(signal_number)
    caller.join(15)
    assert result["actions"][0]["body"]["slept"] == 1.5
    assert result["actions"][0]["body"]["pid"] == int(marker.read_text())
    assert service.wait() == 0
    assert not any(pid_alive(pid) for pid in workers.values())
    assert "exiting now" not in service.log()  # a signal from the group and the supervisor's are one request


def test_a_stuck_action_is_answered_with_action_timeout_and_its_worker_replaced(
    start_service: Callable[..., Service],
) -> None:
    service = start_service(*STANDALONE, "-f", "2", env={"RUNTIME_HARAKIRI": "1"})
    old = service.wait_for_workers(2)
    response = service.call("stuck")
    (error,) = response["actions"][0]["errors"]
    assert error["code"] == "ACTION_TIMEOUT"
    replaced = service.wait_for_heartbeats(
        lambda b: len(b) == 2 and set(b.values()) != set(old.values()), what="the harakiri'd worker's replacement"
    )
    assert len(set(replaced.values()) & set(old.values())) == 1  # exactly one worker was replaced
    assert service.call("whoami")["actions"][0]["errors"] == []
    log = service.log()
    assert "triggering harakiri" in log
    assert "Re-spawning failed worker" in log


def test_a_crash_loop_is_given_up_and_logged(start_service: Callable[..., Service]) -> None:
    service = start_service(*STANDALONE, "-f", "2", env={"RUNTIME_CRASH_AT_START": "1"})
    assert service.wait() == 1  # every worker given up: the service is down, and says so
    log = service.log()
    for fid in (1, 2):
        assert log.count(f"Started worker #{fid} ") == 4  # the first start and 3 restarts
        assert f"Worker #{fid} is crash-looping (3 restarts within 15 seconds); giving up on it" in log
    assert "All workers are crash-looping; the service is down" in log


def test_sighup_restarts_the_workers_one_at_a_time(start_service: Callable[..., Service]) -> None:
    service = start_service(*STANDALONE, "-f", "2")
    old = service.wait_for_workers(2)
    service.send(signal.SIGHUP)
    new = service.wait_for_heartbeats(
        lambda b: len(b) == 2 and not set(b.values()) & set(old.values()), 15, "both workers to be restarted"
    )
    log = service.log()
    # Worker 2 is only stopped once worker 1's replacement runs: never both down at once.
    assert log.index(f"Started worker #1 (pid {new[1]})") < log.index(f"Restarting worker #2 (pid {old[2]})")
    assert "Re-spawning" not in log  # a planned restart is not a crash
    assert service.call("whoami")["actions"][0]["errors"] == []
    assert service.process.poll() is None


def test_workers_stop_when_the_supervisor_is_killed(start_service: Callable[..., Service]) -> None:
    service = start_service(*STANDALONE, "-f", "2")
    workers = service.wait_for_workers(2)
    service.process.kill()
    service.process.wait()
    wait_for(lambda: not any(pid_alive(pid) for pid in workers.values()), 10, "the orphaned workers to exit")
    assert service.heartbeats() == {}  # they stopped gracefully, removing their heartbeat files


def test_no_respawn_leaves_dead_workers_dead(start_service: Callable[..., Service]) -> None:
    service = start_service(*STANDALONE, "-f", "2", "--no-respawn")
    workers = service.wait_for_workers(2)
    os.kill(workers[1], signal.SIGKILL)
    wait_for(lambda: "Not re-spawning worker #1" in service.log(), 10, "the supervisor to notice")
    assert service.call("whoami")["actions"][0]["body"]["pid"] == workers[2]
    os.kill(workers[2], signal.SIGKILL)
    assert service.wait() == 1
    assert "Every worker has exited and none will be re-spawned" in service.log()


def test_a_second_stop_signal_kills_the_workers_at_once(start_service: Callable[..., Service], tmp_path: Path) -> None:
    service = start_service(*STANDALONE, "-f", "2")
    workers = service.wait_for_workers(2)
    marker = tmp_path / "running"
    request_id = 999_001
    write_request(str(service.spool), request_id, [{"action": "slow", "body": {"seconds": 60, "marker": str(marker)}}])
    wait_for(marker.exists, 10, "the action to start")
    service.send(signal.SIGTERM)
    wait_for(lambda: "Received SIGTERM" in service.log(), 10, "the first signal to be handled")
    service.send(signal.SIGTERM)  # the same signal again: the operator insists
    assert service.wait() == 1  # not a clean stop: a job was lost
    assert "killing the workers now" in service.log()
    assert not any(pid_alive(pid) for pid in workers.values())
    assert not (service.spool / "out" / f"{request_id}.json").exists()
