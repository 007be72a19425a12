"""Fixtures: a router and worker subprocesses on a fresh ipc endpoint, cleaned up after each test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import Cluster, short_ipc_dir


@pytest.fixture
def ipc_dir() -> Iterator[Path]:
    path = Path(short_ipc_dir())
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cluster(ipc_dir: Path) -> Iterator[Cluster]:
    """A cluster on ``ipc://<dir>/svc`` (nothing started yet)."""
    running = Cluster(ipc_dir, f"ipc://{ipc_dir}/svc")
    yield running
    running.stop()
