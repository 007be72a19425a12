"""What the bench compares: each target is a library and transport, with its server and client programs.

All soa-core and PySOA 1.4.9 targets run the same service and client code (bench/workloads/pysoa_*.py); only the
transport settings differ. The floors and the peers have their own small programs in bench/workloads/.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ALL_TARGETS", "Context", "Target", "target_names"]

WORKLOADS = Path(__file__).resolve().parent / "workloads"
# Large enough for the 1 MB echo in one message (no chunking) on both libraries.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass
class Context:
    """What targets need to build their command lines; filled by the runner."""

    redis_port: int
    soa_python: str
    soa_env: dict[str, str]
    pysoa149_python: str | None = None
    peers_python: str | None = None
    faststream_python: str | None = None
    zmq_floor_python: str | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # target name -> reason


Command = tuple[list[str], dict[str, str] | None]


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    family: str  # "redis", "zmq" or "local": which floor and which peers it is compared with
    scenarios: frozenset[str]
    client: Callable[[Context, Sequence[int]], Command]
    server: Callable[[Context, int], Command] | None = None  # None: the client runs the server in-process
    # True: every server and client of the target uses one service port (a router, a broker); else one per server.
    shared_endpoint: bool = False
    # Started before the servers, ready once the service port accepts connections (soa-zmq's router).
    infra: Callable[[Context, int], Command] | None = None

    def available(self, ctx: Context) -> str | None:
        """``None`` when the target can run, else why not."""
        return ctx.unavailable.get(self.name)


def _script(name: str) -> str:
    return str(WORKLOADS / name)


def _soa(ctx: Context, script: str, *args: str) -> Command:
    return [ctx.soa_python, _script(script), *args], ctx.soa_env


def _soa_otel(ctx: Context, script: str, settings: dict[str, Any]) -> Command:
    """A soa-core workload with soa-otel in its middleware and the OpenTelemetry SDK set up (otel_sdk.py)."""
    return [ctx.soa_python, _script("otel_sdk.py"), _script(script), repr(with_otel(settings))], ctx.soa_env


def _pysoa149(ctx: Context, script: str, *args: str) -> Command:
    assert ctx.pysoa149_python is not None
    # -E -s: nothing of the dev environment (PYTHONPATH, user site) reaches the old library's process.
    return [ctx.pysoa149_python, "-E", "-s", _script(script), *args], None


def _peers(ctx: Context, script: str, *args: str) -> Command:
    assert ctx.peers_python is not None
    return [ctx.peers_python, "-E", "-s", _script(script), *args], None


def _faststream(ctx: Context, script: str, *args: str) -> Command:
    assert ctx.faststream_python is not None
    return [ctx.faststream_python, "-E", "-s", _script(script), *args], None


# --- transport settings (Python literals: PySOA wants tuples for hosts) ---------------------------------------------


def soa_redis_settings(port: int, server: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "url": f"redis://127.0.0.1:{port}/0",
        "maximum_message_size_in_bytes": MAX_MESSAGE_BYTES,
        "log_messages_larger_than_bytes": MAX_MESSAGE_BYTES,
    }
    if server:
        kwargs["receive_timeout_in_seconds"] = 1  # bounds how long a SIGTERM waits; idle only
    return {"transport": {"name": "redis", "kwargs": kwargs}}


def pysoa149_redis_settings(port: int, server: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "backend_type": "redis.standard",
        "backend_layer_kwargs": {"hosts": [("127.0.0.1", port)]},
        "maximum_message_size_in_bytes": MAX_MESSAGE_BYTES,
        "log_messages_larger_than_bytes": MAX_MESSAGE_BYTES,
    }
    if server:
        kwargs["receive_timeout_in_seconds"] = 1
    side = "server:RedisServerTransport" if server else "client:RedisClientTransport"
    return {"transport": {"path": f"pysoa.common.transport.redis_gateway.{side}", "kwargs": kwargs}}


def soa_zmq_kwargs(port: int) -> dict[str, Any]:
    return {"endpoint": f"tcp://127.0.0.1:{port}", "maximum_message_size_in_bytes": MAX_MESSAGE_BYTES}


def soa_zmq_settings(port: int, role: str | None = None) -> dict[str, Any]:
    # Clients and workers (role "auto") of one service share its endpoint; the router the bench started serves it.
    # Role "standalone": the one worker binds the endpoint itself, with no router hop.
    kwargs = soa_zmq_kwargs(port)
    if role is not None:
        kwargs["role"] = role
    return {"transport": {"name": "zmq", "kwargs": kwargs}}


def soa_zmq_router(ctx: Context, port: int) -> Command:
    # The router runs in the foreground under the bench (rather than detached by the first worker), so that its CPU
    # time is counted with the servers' and it stops with them.
    return [ctx.soa_python, "-m", "soa_zmq.router", "--kwargs", json.dumps(soa_zmq_kwargs(port))], ctx.soa_env


def with_otel(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with soa-otel's middleware (``otel``), also in a local transport's in-process server."""
    transport = settings["transport"]
    if transport.get("name") == "local":
        kwargs = transport["kwargs"]
        server_settings = {**kwargs["server_settings"], "middleware": ["otel"]}
        transport = {**transport, "kwargs": {**kwargs, "server_settings": server_settings}}
    return {**settings, "transport": transport, "middleware": ["otel"]}


def soa_local_settings(serialize: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"server_class": "pysoa_service:BenchServer", "server_settings": {}}
    if not serialize:
        kwargs["serialize"] = False
    return {"transport": {"name": "local", "kwargs": kwargs}}


def pysoa149_local_settings() -> dict[str, Any]:
    # PySOA's local transport passes dicts by reference: it never serializes.
    return {
        "transport": {
            "path": "pysoa.common.transport.local:LocalClientTransport",
            "kwargs": {"server_class": "pysoa_service:BenchServer", "server_settings": {}},
        }
    }


# --- scenarios each kind of target supports ---------------------------------------------------------------------

REMOTE_SCENARIOS = frozenset({"lat_100B", "lat_10KB", "lat_1MB", "tput_2x4"})
SOA_SCENARIOS = REMOTE_SCENARIOS | {"job_20", "par_10"}
LOCAL_SCENARIOS = frozenset({"lat_100B", "job_20"})


ALL_TARGETS: tuple[Target, ...] = (
    Target(
        "soa-redis",
        "soa-core / Redis",
        "redis",
        SOA_SCENARIOS | {"conc_100"},
        client=lambda c, _p: _soa(c, "pysoa_client.py", repr(soa_redis_settings(c.redis_port, False))),
        server=lambda c, _p: _soa(c, "pysoa_service.py", repr(soa_redis_settings(c.redis_port, True))),
    ),
    Target(
        "soa-redis-otel",
        "soa-core / Redis with soa-otel on both sides (SDK, spans discarded)",
        "redis",
        frozenset({"lat_100B", "job_20"}),
        client=lambda c, _p: _soa_otel(c, "pysoa_client.py", soa_redis_settings(c.redis_port, False)),
        server=lambda c, _p: _soa_otel(c, "pysoa_service.py", soa_redis_settings(c.redis_port, True)),
    ),
    Target(
        "soa-redis-async",
        "soa-core / Redis, AsyncClient (redis.asyncio)",
        "redis",
        frozenset({"lat_100B", "conc_100"}),
        client=lambda c, _p: _soa(c, "pysoa_async_client.py", repr(soa_redis_settings(c.redis_port, False))),
        server=lambda c, _p: _soa(c, "pysoa_service.py", repr(soa_redis_settings(c.redis_port, True))),
    ),
    Target(
        "faststream-redis",
        "FastStream 0.7.8 / Redis request-reply (asyncio)",
        "redis",
        frozenset({"lat_100B", "conc_100"}),
        client=lambda c, _p: _faststream(c, "faststream_peer.py", "client", str(c.redis_port)),
        server=lambda c, _p: _faststream(c, "faststream_peer.py", "server", str(c.redis_port)),
    ),
    Target(
        "pysoa149-redis",
        "PySOA 1.4.9 / Redis",
        "redis",
        SOA_SCENARIOS,
        client=lambda c, _p: _pysoa149(c, "pysoa_client.py", repr(pysoa149_redis_settings(c.redis_port, False))),
        server=lambda c, _p: _pysoa149(c, "pysoa_service.py", repr(pysoa149_redis_settings(c.redis_port, True))),
    ),
    Target(
        "raw-redis",
        "raw Redis floor (redis-py + hiredis + msgpack)",
        "redis",
        REMOTE_SCENARIOS | {"par_10"},
        client=lambda c, _p: _soa(c, "raw_redis.py", "client", str(c.redis_port)),
        server=lambda c, _p: _soa(c, "raw_redis.py", "server", str(c.redis_port)),
    ),
    Target(
        "raw-redis-lean",
        "the lean Redis floor (prepacked commands on one redis-py Connection, hiredis, msgpack)",
        "redis",
        REMOTE_SCENARIOS | {"par_10"},
        client=lambda c, _p: _soa(c, "raw_redis.py", "client", str(c.redis_port), "--lean"),
        server=lambda c, _p: _soa(c, "raw_redis.py", "server", str(c.redis_port), "--lean"),
    ),
    Target(
        "raw-redis-lua",
        "raw Redis floor pushing with soa-redis's Lua script (ablation)",
        "redis",
        frozenset({"lat_100B", "tput_2x4"}),
        client=lambda c, _p: _soa(c, "raw_redis.py", "client", str(c.redis_port), "--lua"),
        server=lambda c, _p: _soa(c, "raw_redis.py", "server", str(c.redis_port), "--lua"),
    ),
    Target(
        "soa-zmq",
        "soa-core / ZeroMQ, workers behind the router (auto role)",
        "zmq",
        SOA_SCENARIOS,
        client=lambda c, ports: _soa(c, "pysoa_client.py", repr(soa_zmq_settings(ports[0]))),
        server=lambda c, port: _soa(c, "pysoa_service.py", repr(soa_zmq_settings(port))),
        shared_endpoint=True,
        infra=soa_zmq_router,
    ),
    Target(
        "soa-zmq-direct",
        "soa-core / ZeroMQ, one worker binding the endpoint (standalone role)",
        "zmq",
        frozenset({"lat_100B", "lat_10KB", "lat_1MB", "job_20"}),
        client=lambda c, ports: _soa(c, "pysoa_client.py", repr(soa_zmq_settings(ports[0]))),
        server=lambda c, port: _soa(c, "pysoa_service.py", repr(soa_zmq_settings(port, "standalone"))),
        shared_endpoint=True,
    ),
    Target(
        "raw-zmq",
        "raw ZeroMQ floor (pyzmq DEALER/ROUTER + msgpack)",
        "zmq",
        REMOTE_SCENARIOS | {"par_10"},
        client=lambda c, ports: (
            [str(c.zmq_floor_python), "-s", _script("raw_zmq.py"), "client", *map(str, ports)],
            c.soa_env,
        ),
        server=lambda c, port: ([str(c.zmq_floor_python), "-s", _script("raw_zmq.py"), "server", str(port)], c.soa_env),
    ),
    Target(
        "zerorpc",
        "zerorpc 0.6.3",
        "zmq",
        REMOTE_SCENARIOS | {"par_10"},
        client=lambda c, ports: _peers(c, "zerorpc_peer.py", "client", *map(str, ports)),
        server=lambda c, port: _peers(c, "zerorpc_peer.py", "server", str(port)),
    ),
    Target(
        "pyro5",
        "Pyro5 5.17 (msgpack)",
        "zmq",
        REMOTE_SCENARIOS,
        client=lambda c, ports: _peers(c, "pyro5_peer.py", "client", *map(str, ports)),
        server=lambda c, port: _peers(c, "pyro5_peer.py", "server", str(port)),
    ),
    Target(
        "soa-local",
        "soa-core / local (serialized)",
        "local",
        LOCAL_SCENARIOS,
        client=lambda c, _p: _soa(c, "pysoa_client.py", repr(soa_local_settings(True))),
    ),
    Target(
        "soa-local-otel",
        "soa-core / local (serialized) with soa-otel on both sides (SDK, spans discarded)",
        "local",
        LOCAL_SCENARIOS,
        client=lambda c, _p: _soa_otel(c, "pysoa_client.py", soa_local_settings(True)),
    ),
    Target(
        "soa-local-noser",
        "soa-core / local (serialize=False)",
        "local",
        LOCAL_SCENARIOS,
        client=lambda c, _p: _soa(c, "pysoa_client.py", repr(soa_local_settings(False))),
    ),
    Target(
        "pysoa149-local",
        "PySOA 1.4.9 / local (never serializes)",
        "local",
        LOCAL_SCENARIOS,
        client=lambda c, _p: _pysoa149(c, "pysoa_client.py", repr(pysoa149_local_settings())),
    ),
)


def target_names() -> list[str]:
    return [target.name for target in ALL_TARGETS]
