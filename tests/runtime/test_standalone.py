"""simple_main in a real process: the double-import trap, serving in-process, bad settings, daemon mode."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime.conftest import REPO, STANDALONE, Service, pid_alive, wait_for


@pytest.mark.parametrize(
    ("script", "module"),
    [
        ("tests/runtime/standalone.py", "tests.runtime.standalone"),
        ("examples/example_service/src/example_service/standalone.py", "example_service.standalone"),
    ],
)
def test_starting_a_package_module_as_a_script_exits_99_and_says_how_to_start_it(script: str, module: str) -> None:
    result = subprocess.run(
        [sys.executable, script, "-s", "tests.runtime.settings"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 99
    assert "imported twice" in result.stderr
    assert f"python -m {module} -s tests.runtime.settings" in result.stderr


def test_without_fork_the_service_runs_in_the_started_process(start_service: Callable[..., Service]) -> None:
    service = start_service(*STANDALONE)
    assert service.wait_for_workers(1) == {0: service.pid}  # no fork id, and no supervisor above it
    body = service.call("whoami")["actions"][0]["body"]
    assert body == {"pid": service.pid, "fid": None}
    service.send(signal.SIGTERM)
    assert service.wait() == 0
    assert service.heartbeats() == {}


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (
            ["-s", "tests.runtime.no_such_settings"],
            1,
            "Cannot import the settings module 'tests.runtime.no_such_settings'",
        ),
        (["-s", "tests.runtime.no_such_settings", "-d"], 1, "Cannot import the settings module"),  # not detached
        (["-s", "tests.runtime.service"], 1, "The settings module 'tests.runtime.service' has no SOA_SERVER_SETTINGS"),
        ([], 2, "the following arguments are required: -s/--settings"),
        (["-s", "tests.runtime.settings", "-f", "two"], 2, "argument -f/--fork-processes/--fork: invalid int value"),
    ],
)
def test_bad_options_and_settings_fail_before_anything_starts(arguments: list[str], status: int, message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.runtime.standalone", "-f", "2", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == status
    assert message in result.stderr
    assert "Started worker" not in result.stderr
    assert "PID=" not in result.stdout


def test_invalid_settings_are_reported_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad_settings.py").write_text("SOA_SERVER_SETTINGS = {'harakiri': {'timeout': -1}}\n")
    result = subprocess.run(
        [sys.executable, "-m", "tests.runtime.standalone", "-s", "bad_settings", "-f", "2"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ERROR: ")
    assert "harakiri.timeout" in result.stderr
    assert "Traceback" not in result.stderr


def test_daemon_mode_prints_the_pid_and_returns_while_the_service_runs_on(tmp_path: Path) -> None:
    spool, heartbeats = tmp_path / "spool", tmp_path / "hb"
    heartbeats.mkdir()
    env = {**os.environ, "RUNTIME_SPOOL": str(spool), "RUNTIME_HEARTBEAT": str(heartbeats / "hb-{{fid}}.txt")}
    with open(tmp_path / "daemon.log", "wb") as log:
        result = subprocess.run(
            [sys.executable, *STANDALONE, "-f", "2", "-d"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log,
            timeout=30,
        )  # fmt: skip
    assert result.returncode == 0
    pid = int(result.stdout.decode().strip().removeprefix("PID="))
    try:
        wait_for(lambda: len(list(heartbeats.iterdir())) == 2, 10, "two daemonised workers")
        assert os.getsid(pid) == pid  # detached into its own session
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid) and not list(heartbeats.iterdir()), 15, "the daemon to stop")
