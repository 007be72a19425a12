"""--use-file-watcher: a source change restarts the service with the new code; the reloader leaves no orphans."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime.conftest import Service, pid_alive, wait_for

SERVER = """
import os

from pysoa.server import Server

from reloadsvc import answer


def current_answer(request):
    return {"answer": answer.ANSWER, "pid": os.getpid()}


class ReloadServer(Server):
    service_name = "reload"
    action_class_map = {"answer": current_answer}
"""

STANDALONE = """
from pysoa.server.standalone import simple_main


def main():
    from reloadsvc.server import ReloadServer

    simple_main(lambda: ReloadServer)


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    package = root / "reloadsvc"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "answer.py").write_text("ANSWER = 1\n")
    (package / "server.py").write_text(SERVER)
    (package / "settings.py").write_text("from tests.runtime.settings import SOA_SERVER_SETTINGS  # noqa: F401\n")
    (package / "standalone.py").write_text(STANDALONE)
    return root


def edit(path: Path, text: str) -> None:
    path.write_text(text)
    # Some filesystems keep whole-second modification times: make the change visible whatever the timing.
    later = time.time() + 2
    os.utime(path, (later, later))


def answer(service: Service) -> object:
    return service.call("answer")["actions"][0]["body"]["answer"]


def start(start_service: Callable[..., Service], root: Path, *options: str) -> Service:
    env = {"PYTHONPATH": os.pathsep.join([str(root), str(Path(__file__).resolve().parents[2])])}
    return start_service("-m", "reloadsvc.standalone", "-s", "reloadsvc.settings", *options, env=env)


def test_a_source_change_reloads_forked_workers_and_killing_the_reloader_stops_everything(
    start_service: Callable[..., Service], package: Path
) -> None:
    service = start(start_service, package, "-f", "2", "--use-file-watcher")
    old = service.wait_for_workers(2)
    assert answer(service) == 1
    edit(package / "reloadsvc" / "answer.py", "ANSWER = 2\n")
    wait_for(lambda: answer(service) == 2, 20, lambda: f"the new code; log:\n{service.log()}")
    assert "File change detected" in service.log()
    new = service.wait_for_workers(2)
    assert not set(new.values()) & set(old.values())
    # SIGKILL the reloader: the supervisor below it notices and stops its workers gracefully.
    service.process.kill()
    service.process.wait()
    wait_for(lambda: not any(pid_alive(pid) for pid in new.values()), 10, "the workers to exit")
    assert service.heartbeats() == {}


def test_a_watched_module_change_reloads_a_single_process_service_and_sigterm_stops_it(
    start_service: Callable[..., Service], package: Path
) -> None:
    service = start(start_service, package, "--use-file-watcher", "reloadsvc")
    (old_pid,) = service.wait_for_workers(1).values()
    assert answer(service) == 1
    edit(package / "reloadsvc" / "answer.py", "ANSWER = 'two'\n")
    wait_for(lambda: answer(service) == "two", 20, lambda: f"the new code; log:\n{service.log()}")
    (new_pid,) = service.wait_for_workers(1).values()
    assert new_pid != old_pid
    service.send(signal.SIGTERM)
    assert service.wait() == 0
    assert not pid_alive(new_pid)


def test_a_broken_edit_waits_for_the_fix_instead_of_crash_looping(
    start_service: Callable[..., Service], package: Path
) -> None:
    service = start(start_service, package, "--use-file-watcher")
    service.wait_for_workers(1)
    edit(package / "reloadsvc" / "answer.py", "ANSWER = (\n")
    wait_for(lambda: "waiting for a file change to start it again" in service.log(), 20, service.log)
    assert "SyntaxError" in service.log()
    edit(package / "reloadsvc" / "answer.py", "ANSWER = 3\n")
    wait_for(lambda: answer(service) == 3, 20, lambda: f"the fixed code; log:\n{service.log()}")
