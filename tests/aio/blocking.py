"""A sync face for an AsyncClient, so the shared (sync) contract suite can drive it.

Each call of :class:`BlockingAsyncClient` runs the AsyncClient's coroutine on one event loop that
lives in a daemon thread for the whole session (:class:`LoopThread`), as the client would in an
asyncio application.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pysoa.client import AsyncClient
from pysoa.server import Server
from pysoa.test.contract import Connect

__all__ = ["BlockingAsyncClient", "LoopThread", "async_connect", "event_loop_thread"]


class LoopThread:
    """One event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class BlockingAsyncClient:
    """The sync call methods the contract tests use, each awaiting the AsyncClient's method on the loop."""

    def __init__(self, client: AsyncClient, loop: LoopThread) -> None:
        self._client = client
        self._loop = loop

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        return lambda *args, **kwargs: self._loop.run(method(*args, **kwargs))


@pytest.fixture(scope="session")
def event_loop_thread() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


async def _new_client(settings: dict[str, Any]) -> AsyncClient:
    return AsyncClient(settings)  # built on the loop: it binds its transports there


def async_connect(
    loop: LoopThread, transport_for: Callable[[type[Server]], dict[str, Any]]
) -> tuple[Connect, Callable[[], None]]:
    """``(connect, close_all)``: ``connect(server_class)`` returns a blocking AsyncClient whose
    transport setting is ``transport_for(server_class)``; ``close_all()`` closes every client made."""
    clients: list[AsyncClient] = []

    def connect(server_class: type[Server]) -> Any:
        settings = {server_class.service_name or "": {"transport": transport_for(server_class)}}
        client: AsyncClient = loop.run(_new_client(settings))
        clients.append(client)
        return BlockingAsyncClient(client, loop)

    def close_all() -> None:
        for client in clients:
            loop.run(client.aclose())

    return connect, close_all
