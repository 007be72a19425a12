"""The contract suite: the same tests over every transport and serializer.

Each backend fixture param yields a factory ``connect(server_class) -> Client`` that serves
``server_class`` over that transport (starting whatever the transport needs) and a client for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.server import Server

Connect = Callable[[type[Server]], Client]


def _local(serializer: str) -> Iterator[Connect]:
    def connect(server_class: type[Server]) -> Client:
        kwargs: dict[str, Any] = {"server_class": server_class, "server_settings": {}, "serializer": serializer}
        return Client({server_class.service_name or "": {"transport": {"name": "local", "kwargs": kwargs}}})

    yield connect


BACKENDS: dict[str, Callable[[], Iterator[Connect]]] = {
    "local-msgpack": lambda: _local("msgpack"),
    "local-json": lambda: _local("json"),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def connect(backend: str) -> Iterator[Connect]:
    yield from BACKENDS[backend]()
