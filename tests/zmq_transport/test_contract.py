"""The shared contract suite (tests/contract) over the zmq transport, with real worker processes.

Every contract test is imported here and runs with this module's ``backend``/``connect``
fixtures: msgpack and JSON clients, two workers per service in the default ``auto`` role (the
first one starts the service's router).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server
from soa_zmq._settings import server_options
from soa_zmq.router import stop_router
from tests.contract.conftest import Connect
from tests.contract.test_contract import *  # noqa: F403 - the contract tests, collected again here
from tests.zmq_transport.cluster import REPO_ROOT, short_ipc_dir


class _Services:
    """One endpoint, router and two workers per server class, started on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.endpoints: dict[str, str] = {}
        self.processes: list[subprocess.Popen[str]] = []

    def endpoint(self, server_class: type[Server]) -> str:
        path = f"{server_class.__module__}:{server_class.__qualname__}"
        if path not in self.endpoints:
            endpoint = f"ipc://{self.directory}/{len(self.endpoints)}"
            kwargs = {"endpoint": endpoint, "receive_timeout_in_seconds": 0.3, "router_idle_exit_in_seconds": 5}
            settings = json.dumps(
                {"transport": {"name": "zmq", "kwargs": kwargs}, "harakiri": {"timeout": 0, "shutdown_grace": 5}}
            )
            for _ in range(2):
                process = subprocess.Popen(
                    [sys.executable, "-m", "tests.contract.worker", path, settings],
                    cwd=REPO_ROOT,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                self.processes.append(process)
                assert process.stdout is not None
                assert process.stdout.readline().strip() == "READY"
            self.endpoints[path] = endpoint
        return self.endpoints[path]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.communicate(timeout=10)
        for endpoint in self.endpoints.values():
            stop_router(server_options({"endpoint": endpoint}).lock_file)


@pytest.fixture(scope="module")
def zmq_services() -> Iterator[_Services]:
    directory = Path(short_ipc_dir())
    services = _Services(directory)
    yield services
    services.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["zmq-msgpack", "zmq-json"])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def connect(backend: str, zmq_services: _Services) -> Iterator[Connect]:
    clients: list[Client] = []

    def connect(server_class: type[Server]) -> Client:
        kwargs: dict[str, Any] = {
            "endpoint": zmq_services.endpoint(server_class),
            "default_serializer_config": backend.removeprefix("zmq-"),
        }
        client = Client({server_class.service_name or "": {"transport": {"name": "zmq", "kwargs": kwargs}}})
        clients.append(client)
        return client

    yield connect
    for client in clients:
        for handler in client.handlers.values():
            handler.transport.close()
