"""request.run_coroutine: coroutines run on the server's event loop thread, through coroutine middleware."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

from pysoa.server import Server
from pysoa.server.coroutine import CoroutineMiddleware
from tests.core.services import local_client

_T = TypeVar("_T")


async def add_later(a: int, b: int) -> dict[str, Any]:
    await asyncio.sleep(0.01)
    return {"sum": a + b, "thread": threading.current_thread().name}


def uses_coroutine(request: Any) -> dict[str, Any]:
    future = request.run_coroutine(add_later(request.body["a"], request.body["b"]))
    result: dict[str, Any] = future.result(timeout=5)
    return result


async def explode() -> None:
    raise ValueError("coroutine failed")


def failing_coroutine(request: Any) -> dict[str, Any]:
    request.run_coroutine(explode()).result(timeout=5)
    return {}


class RecordingCoroutineMiddleware(CoroutineMiddleware):
    events: ClassVar[list[str]] = []

    def before_run_coroutine(self) -> None:
        self.events.append("before")

    def coroutine(self, coroutine: Coroutine[Any, Any, _T]) -> Coroutine[Any, Any, _T]:
        async def wrapper() -> _T:
            self.events.append("start")
            try:
                return await coroutine
            finally:
                self.events.append("end")

        return wrapper()


class CoroutineServer(Server):
    service_name = "coro"
    action_class_map = {"add": uses_coroutine, "explode": failing_coroutine}


def test_run_coroutine_over_the_local_transport() -> None:
    body = local_client(CoroutineServer).call_action("coro", "add", {"a": 2, "b": 3}).body
    assert body == {"sum": 5, "thread": "pysoa-async-event-loop"}


def test_coroutine_middleware_wraps_and_errors_are_logged(caplog: Any) -> None:
    RecordingCoroutineMiddleware.events.clear()
    settings = {
        "coroutine_middleware": [
            {"path": "pysoa.server.coroutine:DefaultCoroutineMiddleware"},
            {"path": f"{__name__}:RecordingCoroutineMiddleware"},
        ]
    }
    client = local_client(CoroutineServer, server_settings=settings)
    assert client.call_action("coro", "add", {"a": 1, "b": 1}).body["sum"] == 2
    assert RecordingCoroutineMiddleware.events == ["before", "start", "end"]
    response = client.call_action("coro", "explode", raise_action_errors=False)
    assert response.errors[0].code == "SERVER_ERROR"
    assert "coroutine failed" in (response.errors[0].message or "")
    assert "Error occurred while awaiting coroutine" in caplog.text
