"""One benchmark run: prepare the interpreters, start a private redis-server, run every target's scenarios for
several repetitions (targets interleaved, order rotated each repetition), and collect one record per measurement."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import _envs
from bench._procs import BenchProcessError, Driver, PortProcess, ServerProcess, cpu_seconds
from bench._scenarios import Scenario
from bench._targets import WORKLOADS, Context, Target
from tests.pysoa149.private_redis import private_redis_server

__all__ = ["RunOptions", "RunResult", "run"]

Log = Callable[[str], None]


@dataclass
class RunOptions:
    targets: Sequence[Target]
    scenarios: Sequence[Scenario]
    repetitions: int
    log: Log
    record: Callable[[dict[str, Any]], None]  # receives every record as it is made (JSON lines)


@dataclass
class RunResult:
    info: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- preparing the interpreters ------------------------------------------------------------------------------------

_SOA_PROBE = """
import json
from pysoa.plugins import get_plugin_manager
import pysoa.version, redis, msgpack
try:
    import hiredis
    hiredis_version = hiredis.__version__
except ImportError:
    hiredis_version = None
try:
    import zmq
    pyzmq = zmq.__version__
except ImportError:
    pyzmq = None
print(json.dumps({"transports": sorted(get_plugin_manager().transports()), "soa_core": pysoa.version.__version__,
    "redis_py": redis.__version__, "hiredis": hiredis_version, "msgpack": ".".join(map(str, msgpack.version)),
    "pyzmq": pyzmq}))
"""


def _prepare(ctx: Context, wanted: set[str], log: Log) -> dict[str, Any]:
    """Fill ``ctx`` with interpreters; mark targets that cannot run in ``ctx.unavailable``. Returns version info."""
    info: dict[str, Any] = {}
    try:
        info["soa"] = _envs.probe(ctx.soa_python, _SOA_PROBE, ctx.soa_env)
    except _envs.BenchEnvError as exc:
        # A plugin being written right now may break plugin loading for everyone; run without it, and say so.
        blocked = ",".join(filter(None, [ctx.soa_env.get("PYSOA_DISABLE_PLUGINS"), "zmq"]))
        ctx.soa_env["PYSOA_DISABLE_PLUGINS"] = blocked
        info["soa"] = _envs.probe(ctx.soa_python, _SOA_PROBE, ctx.soa_env)
        ctx.unavailable["soa-zmq"] = f"the soa-zmq plugin does not load: {str(exc).splitlines()[-1]}"
        ctx.unavailable["soa-zmq-direct"] = ctx.unavailable["soa-zmq"]
        log(f"soa-zmq disabled for this run: {ctx.unavailable['soa-zmq']}")
    transports = set(info["soa"]["transports"])
    for target, transport in (
        ("soa-redis", "redis"),
        ("soa-zmq", "zmq"),
        ("soa-zmq-direct", "zmq"),
        ("soa-local", "local"),
    ):
        if transport not in transports:
            ctx.unavailable.setdefault(target, f"soa-core has no {transport!r} transport installed")
    if "soa-local" in ctx.unavailable:
        ctx.unavailable["soa-local-noser"] = ctx.unavailable["soa-local"]
    if "soa-redis" in ctx.unavailable:
        ctx.unavailable["raw-redis-lua"] = ctx.unavailable["soa-redis"]  # it borrows soa-redis's push script

    if wanted & {"pysoa149-redis", "pysoa149-local"}:
        try:
            ctx.pysoa149_python = str(_envs.pysoa149_python())
            info["pysoa149"] = _envs.pysoa149_info()
        except Exception as exc:
            for name in ("pysoa149-redis", "pysoa149-local"):
                ctx.unavailable[name] = f"PySOA 1.4.9 venv: {exc}"
    needs_peers = bool(wanted & {"zerorpc", "pyro5"}) or ("raw-zmq" in wanted and not info["soa"]["pyzmq"])
    if needs_peers:
        try:
            ctx.peers_python = str(_envs.ensure_peers_python(log))
            info["peers"] = list(_envs.PEER_REQUIREMENTS)
        except Exception as exc:
            for name in ("zerorpc", "pyro5"):
                ctx.unavailable[name] = f"peers venv: {exc}"
    if "faststream-redis" in wanted:
        try:
            ctx.faststream_python = str(_envs.ensure_faststream_python(log))
            info["faststream"] = list(_envs.FASTSTREAM_REQUIREMENTS)
        except Exception as exc:
            ctx.unavailable["faststream-redis"] = f"FastStream venv: {exc}"
    # The raw ZeroMQ floor uses soa-core's own pyzmq when it has one (the one soa-zmq runs on).
    if info["soa"]["pyzmq"]:
        ctx.zmq_floor_python = ctx.soa_python
        info["zmq_floor"] = f"soa-core venv, pyzmq {info['soa']['pyzmq']}"
    elif ctx.peers_python:
        ctx.zmq_floor_python = ctx.peers_python
        info["zmq_floor"] = "peers venv (soa-core's venv has no pyzmq yet)"
    else:
        ctx.unavailable["raw-zmq"] = "no interpreter with pyzmq"
    return info


def _proc_field(path: str, name: str) -> str:
    with contextlib.suppress(OSError), open(path) as handle:
        for line in handle:
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    return ""


def _machine_info() -> dict[str, Any]:
    cpu_model = _proc_field("/proc/cpuinfo", "model name")
    mem_kib = _proc_field("/proc/meminfo", "MemTotal").split()
    memory = f"{int(mem_kib[0]) / 1024 / 1024:.0f} GiB" if mem_kib else ""
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=_envs.REPO_ROOT, check=False
        ).stdout.strip()
    redis_version = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model,
        "memory": memory,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "redis_server": redis_version,
        "commit": commit,
    }


# --- measuring -------------------------------------------------------------------------------------------------------


def _cpu(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def _measure(
    drivers: Sequence[Driver], scenario: Scenario, server_pids: Sequence[int], redis_pid: int
) -> dict[str, Any]:
    command = scenario.command()
    for driver in drivers:
        driver.write_line(json.dumps(command))
    for driver in drivers:
        driver.prepare_wait()
    servers_before, redis_before = _cpu(server_pids), _cpu([redis_pid])
    load = os.getloadavg()[0]
    for driver in drivers:
        driver.go()
    results = [driver.result(timeout=scenario.duration + 180) for driver in drivers]
    servers_cpu, redis_cpu = _cpu(server_pids) - servers_before, _cpu([redis_pid]) - redis_before
    if not server_pids:
        redis_cpu = 0.0  # in-process targets do not use Redis
    calls = sum(r["calls"] for r in results)
    actions = sum(r["actions"] for r in results)
    client_cpu = sum(r["cpu"] for r in results)
    record: dict[str, Any] = {
        "calls": calls,
        "actions": actions,
        "wall_s": max(r["wall"] for r in results),
        "calls_per_s": sum(r["calls"] / r["wall"] for r in results if r["wall"] > 0),
        "actions_per_s": sum(r["actions"] / r["wall"] for r in results if r["wall"] > 0),
        "cpu_client_s": client_cpu,
        "cpu_servers_s": servers_cpu,
        "cpu_redis_s": redis_cpu,
        "cpu_per_action_us": (client_cpu + servers_cpu + redis_cpu) / actions * 1e6 if actions else None,
        "loadavg_1m": load,
    }
    latencies = [r["latency"] for r in results if "latency" in r]
    if latencies:
        # One client: its percentiles. Several: the median of theirs (each client is one closed loop).
        for key in ("p50", "p90", "p99", "mean"):
            values = sorted(lat[key] for lat in latencies)
            record[f"{key}_us"] = values[len(values) // 2] * 1e6
    return record


class _Deployment:
    """A target's running servers and drivers for one repetition."""

    def __init__(self, target: Target, ctx: Context) -> None:
        self.target = target
        self.ctx = ctx
        self.infra: list[PortProcess] = []
        self.servers: list[ServerProcess] = []
        self.ports: list[int] = []
        self.drivers: dict[int, list[Driver]] = {}  # server count -> its drivers
        self.service_port = _free_port() if target.shared_endpoint else 0

    def ensure_servers(self, count: int) -> None:
        assert self.target.server is not None
        if self.target.infra is not None and not self.infra:
            argv, env = self.target.infra(self.ctx, self.service_port)
            self.infra.append(PortProcess(f"{self.target.name}-infra", argv, env, WORKLOADS, self.service_port))
        while len(self.servers) < count:
            port = self.service_port or _free_port()
            argv, env = self.target.server(self.ctx, port)
            label = f"{self.target.name}-server{len(self.servers) + 1}"
            self.servers.append(ServerProcess(label, argv, env, WORKLOADS))
            if port not in self.ports:
                self.ports.append(port)

    def drivers_for(self, servers: int, clients: int) -> list[Driver]:
        if self.target.server is not None:
            self.ensure_servers(servers)
        pool = self.drivers.setdefault(servers, [])
        started: list[Driver] = []
        endpoints = self.ports[: max(servers, 1)]
        while len(pool) + len(started) < clients:
            index = len(pool) + len(started)
            # Rotate the server list so that clients which call one server (Pyro5) are spread over all of them.
            shift = index % max(len(endpoints), 1)
            argv, env = self.target.client(self.ctx, endpoints[shift:] + endpoints[:shift])
            started.append(Driver(f"{self.target.name}-client{index + 1}", argv, env, WORKLOADS))
        try:
            for driver in started:
                driver.wait_hello()
        finally:
            pool.extend(started)
        return pool[:clients]

    @property
    def server_pids(self) -> list[int]:
        """Every process on the serving side (servers, a router), for the CPU accounting."""
        return [process.pid for process in [*self.infra, *self.servers]]

    def close(self) -> None:
        for pool in self.drivers.values():
            for driver in pool:
                driver.quit()
        for server in self.servers:
            server.stop()
        for process in self.infra:
            process.stop()


@contextlib.contextmanager
def _deployed(target: Target, ctx: Context) -> Iterator[_Deployment]:
    deployment = _Deployment(target, ctx)
    try:
        yield deployment
    finally:
        deployment.close()


def run(options: RunOptions) -> RunResult:
    log = options.log
    started = time.monotonic()
    ctx = Context(redis_port=0, soa_python=sys.executable, soa_env=dict(os.environ))
    wanted = {target.name for target in options.targets}
    info: dict[str, Any] = {"machine": _machine_info()}
    info["versions"] = _prepare(ctx, wanted, log)
    info["prepare_s"] = round(time.monotonic() - started, 1)
    result = RunResult(info=info, unavailable={t: r for t, r in ctx.unavailable.items() if t in wanted})
    runnable = [target for target in options.targets if target.name not in ctx.unavailable]
    for name, reason in result.unavailable.items():
        log(f"skipping {name}: {reason}")
    info["loadavg_before"] = os.getloadavg()
    measure_started = time.monotonic()
    with private_redis_server() as redis:
        ctx.redis_port = redis.port
        info["redis_port"] = redis.port
        for rep in range(options.repetitions):
            # Rotate the order every repetition, so that no target always runs first (or right after another).
            shift = rep % max(len(runnable), 1)
            for target in runnable[shift:] + runnable[:shift]:
                scenarios = [s for s in options.scenarios if s.name in target.scenarios]
                log(f"rep {rep + 1}/{options.repetitions}: {target.name} ({', '.join(s.name for s in scenarios)})")
                _run_target(target, scenarios, ctx, rep, redis.process.pid, result, options.record, log)
    info["loadavg_after"] = os.getloadavg()
    info["measure_s"] = round(time.monotonic() - measure_started, 1)
    info["total_s"] = round(time.monotonic() - started, 1)
    return result


def _run_target(
    target: Target,
    scenarios: Sequence[Scenario],
    ctx: Context,
    rep: int,
    redis_pid: int,
    result: RunResult,
    emit: Callable[[dict[str, Any]], None],
    log: Log,
) -> None:
    local = target.server is None
    # Single-server scenarios first: the second server starts only when needed.
    ordered = sorted(scenarios, key=lambda s: (s.servers, s.clients))
    try:
        with _deployed(target, ctx) as deployment:
            for scenario in ordered:
                record: dict[str, Any] = {"type": "measurement", "rep": rep + 1, "target": target.name}
                record["scenario"] = scenario.name
                try:
                    drivers = deployment.drivers_for(0 if local else scenario.servers, scenario.clients)
                    record.update(_measure(drivers, scenario, deployment.server_pids, redis_pid))
                except BenchProcessError as exc:
                    record = {"type": "error", "rep": rep + 1, "target": target.name, "scenario": scenario.name}
                    record["error"] = str(exc)
                    log(f"  {target.name} {scenario.name} failed: {str(exc).splitlines()[0]}")
                    result.records.append(record)
                    emit(record)
                    return  # the deployment may be broken; the next repetition starts afresh
                result.records.append(record)
                emit(record)
    except BenchProcessError as exc:
        record = {"type": "error", "rep": rep + 1, "target": target.name, "scenario": None, "error": str(exc)}
        log(f"  {target.name} failed: {str(exc).splitlines()[0]}")
        result.records.append(record)
        emit(record)
