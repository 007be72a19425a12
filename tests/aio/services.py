"""A service with ``async def`` actions, for the asyncio tests (local transport and real workers)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from conformity import fields

from pysoa.client.async_client import AsyncClient
from pysoa.server import Server
from pysoa.server.action import Action


class AsyncSquareAction(Action):
    request_schema = fields.Dictionary({"number": fields.Integer()})
    response_schema = fields.Dictionary({"square": fields.Integer()})

    async def run(self, request: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"square": request.body["number"] ** 2}


class InFlight:
    """Counts the async jobs running at once in this process."""

    now = 0
    most = 0


async def gathered(request: Any) -> dict[str, Any]:
    """Sleeps, counting how many of its kind run at once."""
    InFlight.now += 1
    InFlight.most = max(InFlight.most, InFlight.now)
    try:
        await asyncio.sleep(request.body.get("seconds", 0.05))
    finally:
        InFlight.now -= 1
    return {"most": InFlight.most, "pid": os.getpid()}


async def square_via_client(request: Any) -> dict[str, Any]:
    """Calls this service's own square action through ``request.client``."""
    client = request.client
    assert isinstance(client, AsyncClient)
    response = await client.call_action("async_service", "square", {"number": request.body["number"]})
    return {"square": response.body["square"], "deadline_inherited": client.deadline is not None}


async def slow(request: Any) -> dict[str, Any]:
    if "started_marker" in request.body:  # lets a test in another process see that the job is under way
        Path(request.body["started_marker"]).touch()
    await asyncio.sleep(request.body["seconds"])
    return {"slept": request.body["seconds"], "token": request.body.get("token")}


async def client_kind(request: Any) -> dict[str, Any]:
    return {"kind": type(request.client).__name__, "time_left": request.time_left()}


async def context_of(request: Any) -> dict[str, Any]:
    return {"context": dict(request.context), "switches": sorted(request.switches)}


def sync_echo(request: Any) -> dict[str, Any]:
    return {"echo": dict(request.body), "kind": type(request.client).__name__}


def sync_square_via_client(request: Any) -> dict[str, Any]:
    # A sync action blocks its worker's event loop while it waits for this call to its own service.
    response = request.client.call_action("async_service", "square", {"number": request.body["number"]}, timeout=10)
    return {"square": response.body["square"], "pid": os.getpid()}


class AsyncService(Server):
    service_name = "async_service"
    action_class_map = {
        "square": AsyncSquareAction,
        "gathered": gathered,
        "square_via_client": square_via_client,
        "client_kind": client_kind,
        "sync_echo": sync_echo,
        "sync_square_via_client": sync_square_via_client,
        "context_of": context_of,
        "slow": slow,
    }


LOCAL_ROUTING: dict[str, Any] = {
    "async_service": {
        "transport": {
            "name": "local",
            "kwargs": {"server_class": AsyncService, "server_settings": {}},
        }
    }
}
