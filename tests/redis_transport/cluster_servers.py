"""A private Redis Cluster for tests: 6 ``redis-server`` processes (3 masters, 3 replicas) on free loopback ports.

Built on :mod:`tests.redis_transport.servers` (each node is a :class:`RedisProcess`, stopped by pid).
Other test packages reuse it::

    from tests.redis_transport.cluster_servers import start_redis_cluster
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.crc import key_slot

from .servers import RedisProcess, TLSFiles, free_port, start_redis

__all__ = ["RedisClusterProcesses", "start_masters_only_cluster", "start_redis_cluster"]

REDIS_CLI = shutil.which("redis-cli")
SLOTS = 16384


@dataclass
class RedisClusterProcesses:
    """The nodes of one cluster, masters and replicas as created (roles change on failover)."""

    nodes: list[RedisProcess]
    node_timeout_ms: int
    master_count: int = 3

    @property
    def seeds(self) -> list[str]:
        """Every node as ``host:port`` (the backend's seed list)."""
        return [node.address for node in self.nodes]

    def _live_client(self) -> redis.Redis:
        for node in self.nodes:
            if node.alive:
                return node.client(socket_timeout=2.0)
        raise RuntimeError("No cluster node is alive")

    def node(self, port: int) -> RedisProcess:
        return next(node for node in self.nodes if node.port == port)

    def slot_owners(self) -> dict[int, RedisProcess]:
        """Slot -> its master, as a live node reports it (CLUSTER SLOTS)."""
        client = self._live_client()
        try:
            ranges = client.execute_command("CLUSTER SLOTS")  # type: ignore[no-untyped-call]
        finally:
            client.close()
        owners: dict[int, RedisProcess] = {}
        for entry in ranges:
            start, end, master = int(entry[0]), int(entry[1]), entry[2]
            process = self.node(int(master[1]))
            for slot in range(start, end + 1):
                owners[slot] = process
        return owners

    def master_for_key(self, key: str) -> RedisProcess:
        return self.slot_owners()[key_slot(key.encode("utf-8"))]

    def node_id(self, node: RedisProcess) -> str:
        client = node.client()
        try:
            return str(client.execute_command("CLUSTER MYID").decode())  # type: ignore[no-untyped-call]
        finally:
            client.close()

    def masters(self) -> list[RedisProcess]:
        ports = {owner.port for owner in self.slot_owners().values()}
        return [node for node in self.nodes if node.port in ports]

    def wait_until_ok(self, timeout: float = 30.0) -> None:
        """Until every live node reports the cluster ok with all slots served and each master has a synced replica."""
        deadline = time.monotonic() + timeout
        problem = "not checked"
        while time.monotonic() < deadline:
            problem = self._problem()
            if not problem:
                return
            time.sleep(0.1)
        raise RuntimeError(f"The Redis Cluster did not become ready: {problem}")

    def _problem(self) -> str:
        live = [node for node in self.nodes if node.alive]
        masters = 0
        for node in live:
            client = node.client(socket_timeout=1.0)
            try:
                info = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
                replication = client.info("replication")
            except redis.RedisError as exc:
                return f"{node.address}: {exc}"
            finally:
                client.close()
            fields = {_text(name): _text(value) for name, value in info.items()}
            if fields.get("cluster_state") != "ok" or fields.get("cluster_slots_ok") != str(SLOTS):
                return f"{node.address}: {fields}"
            if int(fields.get("cluster_known_nodes", 0)) < len(self.nodes):
                return f"{node.address} knows {fields.get('cluster_known_nodes')} nodes"
            if replication.get("role") == "master":
                masters += 1
            elif replication.get("master_link_status") != "up":
                return f"replica {node.address} is not synced"
        if masters != self.master_count:
            return f"{masters} masters alive"
        return ""

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _start_nodes(
    directory: Path, count: int, node_timeout_ms: int, nodes: list[RedisProcess], tls: TLSFiles | None = None
) -> list[int]:
    """Start ``count`` empty cluster-mode nodes, appending each to ``nodes``; returns their cluster bus ports."""
    bus_ports = []
    for number in range(count):
        node_dir = directory / f"node-{number}"
        # Its own free port: the default (port + 10000) may be taken or out of range.
        bus_ports.append(free_port())
        cluster_args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(node_dir / "nodes.conf"),
            "--cluster-node-timeout", str(node_timeout_ms),
            "--cluster-port", str(bus_ports[-1]),
            "--repl-diskless-sync", "yes",
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        if tls is not None:
            cluster_args += ["--tls-cluster", "yes", "--tls-replication", "yes"]
        nodes.append(start_redis(node_dir, *cluster_args, tls=tls))
    return bus_ports


def start_masters_only_cluster(directory: Path, masters: int, tls: TLSFiles | None = None) -> RedisClusterProcesses:
    """A cluster of ``masters`` masters (1 or more) without replicas, the slots split evenly (bench, TLS tests).

    With ``tls``, clients and the cluster bus speak only TLS.
    """
    nodes: list[RedisProcess] = []
    try:
        bus_ports = _start_nodes(directory, masters, 5000, nodes, tls)
        for number, node in enumerate(nodes):
            first, last = number * SLOTS // masters, (number + 1) * SLOTS // masters - 1
            client = node.client()
            try:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)  # type: ignore[no-untyped-call]
                if number:
                    client.execute_command("CLUSTER", "MEET", nodes[0].host, nodes[0].port, bus_ports[0])  # type: ignore[no-untyped-call]
            finally:
                client.close()
        cluster = RedisClusterProcesses(nodes, 5000, masters)
        cluster.wait_until_ok()
        return cluster
    except BaseException:
        for node in nodes:
            node.stop()
        raise


def start_redis_cluster(directory: Path, node_timeout_ms: int = 1000) -> RedisClusterProcesses:
    """Start 6 cluster-mode nodes, create a 3-master cluster with one replica each, and wait until it is ok."""
    if REDIS_CLI is None:
        raise RuntimeError("The Redis Cluster tests need the redis-cli binary")
    nodes: list[RedisProcess] = []
    try:
        _start_nodes(directory, 6, node_timeout_ms, nodes)
        result = subprocess.run(
            [REDIS_CLI, "--cluster", "create", *[n.address for n in nodes], "--cluster-replicas", "1", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{result.stdout}\n{result.stderr}")
        cluster = RedisClusterProcesses(nodes, node_timeout_ms)
        cluster.wait_until_ok()
        return cluster
    except BaseException:
        for node in nodes:
            node.stop()
        raise
