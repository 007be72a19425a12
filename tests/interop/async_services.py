"""The interop service with ``async def`` actions, served by a concurrent soa-core worker (tests/interop)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.interop.services import ChunkingInteropServer, SquareAction

SOACORE_ASYNC_SERVICE = "soacore_async"  # async actions; chunks above CHUNK_THRESHOLD, like pysoa149_chunk


class AsyncSquareAction(SquareAction):
    async def run(self, request: Any) -> dict[str, Any]:  # type: ignore[override]
        await asyncio.sleep(0)
        return {"square": request.body["number"] ** 2}


async def async_echo(request: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return dict(request.body)


class AsyncInteropServer(ChunkingInteropServer):
    """The interop actions, ``square`` and ``echo`` async, served ``async_jobs_per_worker`` at a time."""

    service_name = SOACORE_ASYNC_SERVICE
    action_class_map = {**ChunkingInteropServer.action_class_map, "square": AsyncSquareAction, "echo": async_echo}
