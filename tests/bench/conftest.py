"""Build the benchmark's interpreters before the first test runs, outside any test's timeout (first build is slow)."""

from __future__ import annotations

import pytest

_build_errors: list[BaseException] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bench_envs: needs the benchmark's PySOA 1.4.9 and peers venvs")


def pytest_collection_finish(session: pytest.Session) -> None:
    if not any(item.get_closest_marker("bench_envs") for item in session.items):
        return
    from bench._envs import ensure_peers_python, pysoa149_python

    for build in (pysoa149_python, ensure_peers_python):
        try:
            build()
        except Exception as exc:  # reported by the test that needs it
            _build_errors.append(exc)


@pytest.fixture(scope="session")
def bench_envs_ready() -> None:
    if _build_errors:
        raise _build_errors[0]
