"""Fixtures for the PySOA 1.4.9 peer self-tests; other suites can import them from here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .env import ensure_pysoa149_python
from .private_redis import PrivateRedis, private_redis_server

_build_error: BaseException | None = None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the interop venv before the first test runs, outside any test's timeout (the first build takes a while)."""
    global _build_error
    if any(item.get_closest_marker("interop") for item in session.items):
        try:
            ensure_pysoa149_python()
        except Exception as exc:  # reported by the fixture, at the tests that need the venv
            _build_error = exc


@pytest.fixture(scope="session")
def pysoa149_python() -> Path:
    """The interop venv's python (PySOA 1.4.9 installed)."""
    if _build_error is not None:
        raise _build_error
    return ensure_pysoa149_python()


@pytest.fixture(scope="session")
def pysoa149_redis() -> Iterator[PrivateRedis]:
    """A private redis-server for the peer self-tests, shared by the session."""
    with private_redis_server() as server:
        yield server
