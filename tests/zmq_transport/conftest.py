"""Fixtures: a router and worker subprocesses on a fresh ipc endpoint, cleaned up after each test.

When a test fails, the processes' logs are printed (pytest shows them with the failure).
"""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from .cluster import Cluster, short_ipc_dir


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def ipc_dir(request: pytest.FixtureRequest) -> Iterator[Path]:
    path = Path(short_ipc_dir())
    yield path
    if request.node.stash.get(_FAILED, False):
        for log in sorted(path.glob("*.log")):
            print(f"----- {log.name}\n{log.read_text(errors='replace')}")
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cluster(ipc_dir: Path) -> Iterator[Cluster]:
    """A cluster on ``ipc://<dir>/svc`` (nothing started yet)."""
    running = Cluster(ipc_dir, f"ipc://{ipc_dir}/svc")
    yield running
    running.stop()
