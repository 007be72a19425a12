"""Redis Cluster: queues on their slots' masters, chunked replies, a slot moved and a master killed under calls.

Every test runs on a real 6-node cluster (3 masters, 3 replicas) of private ``redis-server``
processes; the tests that only read and write share one cluster, the failover test has its own.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.crc import key_slot

from pysoa.errors import ConfigurationError, MessageReceiveTimeout, MessageSendError, TransientTransportError
from soa_redis import RedisSendConnectionError
from soa_redis._backend import reset_backends
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .cluster_servers import RedisClusterProcesses, start_masters_only_cluster, start_redis_cluster
from .helpers import job, response
from .servers import free_port, make_tls_files

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    cluster = start_redis_cluster(tmp_path_factory.mktemp("cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[RedisClusterProcesses]:
    cluster = start_redis_cluster(tmp_path / "cluster")
    yield cluster
    cluster.stop()


def _settings(cluster: RedisClusterProcesses) -> dict[str, Any]:
    # Two seeds are enough: the other nodes are discovered from the slot map.
    return {"cluster": {"hosts": cluster.seeds[:2], "failover_retries": 10}}


def _request_key(service: str) -> str:
    return f"pysoa:service.{service}"


def test_services_and_replies_live_on_their_slots_masters(shared_cluster: RedisClusterProcesses) -> None:
    owners = shared_cluster.slot_owners()
    by_master: dict[int, list[str]] = {}
    number = 0
    while len(by_master) < 3 or min(len(services) for services in by_master.values()) < 3:
        service = f"spread-{number}"
        by_master.setdefault(owners[key_slot(_request_key(service).encode())].port, []).append(service)
        number += 1
    services = [service for group in by_master.values() for service in group[:3]]
    settings = _settings(shared_cluster)
    clients = {service: RedisClientTransport(service, **settings) for service in services}
    for position, service in enumerate(services):
        clients[service].send_request_message(position, {}, job(n=position))
    for service in services:
        # Each request queue is on the master that owns its slot, and nowhere else.
        slot = key_slot(_request_key(service).encode())
        assert owners[slot].client().llen(_request_key(service)) == 1
        holders = [m.port for m in shared_cluster.masters() if m.client().cluster("COUNTKEYSINSLOT", slot) > 0]
        assert holders == [owners[slot].port]

    for position, service in enumerate(services):
        server = RedisServerTransport(service, receive_timeout_in_seconds=2, **settings)
        request_id, meta, body = server.receive_request_message()
        assert (request_id, body) == (position, job(n=position))
        assert meta is not None
        server.send_response_message(request_id, meta, response(n=position))
        reply_key = clients[service]._state().reply_key
        assert shared_cluster.master_for_key(reply_key).client().llen(reply_key) == 1
    for position, service in enumerate(services):
        message = clients[service].receive_response_message(2)
        assert (message.request_id, message.body) == (position, response(n=position))


def test_chunked_responses_arrive_whole(shared_cluster: RedisClusterProcesses) -> None:
    settings = _settings(shared_cluster)
    client = RedisClientTransport("chunky", protocol_version=3, **settings)
    server = RedisServerTransport(
        "chunky", receive_timeout_in_seconds=2, chunk_messages_larger_than_bytes=102_400, **settings
    )
    client.send_request_message(7, {}, job())
    request_id, meta, _body = server.receive_request_message()
    big = response(text="x" * 450_000)
    assert meta is not None
    server.send_response_message(request_id, meta, big)
    reply_key = client._state().reply_key
    assert shared_cluster.master_for_key(reply_key).client().llen(reply_key) == 5
    message = client.receive_response_message(5)
    assert (message.request_id, message.body) == (7, big)


def test_a_full_queue_refuses_the_send_and_a_queue_keeps_its_expiry(shared_cluster: RedisClusterProcesses) -> None:
    client = RedisClientTransport("full", queue_capacity=2, queue_full_retries=0, **_settings(shared_cluster))
    client.send_request_message(1, {}, job(n=1), message_expiry_in_seconds=30)
    client.send_request_message(2, {}, job(n=2), message_expiry_in_seconds=30)
    with pytest.raises(MessageSendError, match="full"):
        client.send_request_message(3, {}, job(n=3), message_expiry_in_seconds=30)
    owner = shared_cluster.master_for_key(_request_key("full")).client()
    assert owner.llen(_request_key("full")) == 2
    # A call with a 30 s timeout keeps its queue 30 + 10 s (PySOA's margin).
    assert 30 < owner.ttl(_request_key("full")) <= 40


def test_an_unreachable_cluster_fails_transiently_at_the_deadline() -> None:
    client = RedisClientTransport("nowhere", cluster={"hosts": [f"127.0.0.1:{free_port()}"]})
    started = time.monotonic()
    with pytest.raises(RedisSendConnectionError, match="Redis Cluster"):
        client.send_request_message(1, {}, job(n=1), message_expiry_in_seconds=1.5)
    elapsed = time.monotonic() - started
    # Retried (nothing was sent) until just before the deadline, not given up at once, not much later.
    assert 1.0 < elapsed < 3.0


README = Path(__file__).resolve().parents[2] / "plugins" / "redis_transport" / "README.md"


def _documented_cluster_rules(service: str) -> list[str]:
    """The README's cluster ``ACL SETUSER orders-user`` rule, for ``service``: the tested user is the documented one."""
    section = README.read_text().split("\n## Redis Cluster", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"ACL SETUSER orders-user (.*?)```", section, re.DOTALL)
    assert found, "the README's Redis Cluster section has no ACL SETUSER orders-user rule"
    return [rule.replace("pysoa:service.orders", f"pysoa:service.{service}") for rule in found.group(1).split()]


def test_an_acl_user_limited_to_its_service_works(shared_cluster: RedisClusterProcesses) -> None:
    # ACL users are per node: a real deployment creates the user on every node, as here.
    rules = _documented_cluster_rules("acl")
    for node in shared_cluster.nodes:
        node.client().acl_setuser("acl-user", reset=True)
        node.client().execute_command("ACL", "SETUSER", "acl-user", *rules)  # type: ignore[no-untyped-call]
    seeds = [f"redis://acl-user:secret@{address}" for address in shared_cluster.seeds[:2]]
    client = RedisClientTransport("acl", cluster={"hosts": seeds})
    server = RedisServerTransport("acl", receive_timeout_in_seconds=2, cluster={"hosts": seeds})
    client.send_request_message(1, {}, job(n=1))
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    server.send_response_message(request_id, meta, response(n=1))
    assert client.receive_response_message(2).body == response(n=1)
    other = RedisClientTransport("other", cluster={"hosts": seeds})
    with pytest.raises(MessageSendError, match="no permissions to access one of the keys"):
        other.send_request_message(2, {}, job(n=2))


class _Worker(threading.Thread):
    """A server loop that rides out transient errors and records every request it answers."""

    def __init__(self, service: str, settings: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.transport = RedisServerTransport(service, receive_timeout_in_seconds=0.5, **settings)
        self.stopping = threading.Event()
        self.served: Counter[Any] = Counter()
        self.errors: list[Exception] = []

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                request_id, meta, body = self.transport.receive_request_message()
                assert meta is not None
                assert body is not None
                self.served[request_id] += 1
                self.transport.send_response_message(request_id, meta, response(n=body["actions"][0]["body"]["n"]))
            except MessageReceiveTimeout:
                continue
            except TransientTransportError as exc:
                self.errors.append(exc)
                time.sleep(0.05)


class _Caller:
    """Steady calls through one client transport; records each outcome and every reply seen."""

    def __init__(self, service: str, settings: dict[str, Any], call_timeout: float) -> None:
        self.client = RedisClientTransport(service, **settings)
        self.call_timeout = call_timeout
        self.number = 0
        self.outcomes: list[tuple[float, Exception | None]] = []
        self.replies: Counter[Any] = Counter()

    def call(self) -> Exception | None:
        number = self.number = self.number + 1
        deadline = time.monotonic() + self.call_timeout
        error: Exception | None = None
        try:
            self.client.send_request_message(number, {}, job(n=number), self.call_timeout)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise MessageReceiveTimeout("call timed out")
                message = self.client.receive_response_message(remaining)
                if message.request_id is None:
                    continue
                self.replies[message.request_id] += 1
                assert message.body == response(n=message.request_id)
                if message.request_id == number:
                    break
        except TransientTransportError as exc:
            error = exc
        self.outcomes.append((time.monotonic(), error))
        return error

    def history(self) -> list[tuple[float, str]]:
        start = self.outcomes[0][0] if self.outcomes else 0.0
        return [(round(at - start, 2), type(error).__name__ if error else "ok") for at, error in self.outcomes]


# Every right of the documented user but +info (without it the eviction check is skipped, and says so).
_CLUSTER_ACL_RIGHTS = [rule for rule in _documented_cluster_rules("acl") if rule.startswith("+") and rule != "+info"]


@pytest.mark.parametrize("right", _CLUSTER_ACL_RIGHTS)
def test_the_start_up_check_names_a_missing_right_on_a_cluster(
    shared_cluster: RedisClusterProcesses, right: str
) -> None:
    rules = _documented_cluster_rules("acl")
    seeds = [f"redis://check-user:secret@{address}" for address in shared_cluster.seeds[:2]]
    for node in shared_cluster.nodes:
        node.client().acl_setuser("check-user", reset=True)
        node.client().execute_command("ACL", "SETUSER", "check-user", *rules)  # type: ignore[no-untyped-call]
    # The documented user passes the check...
    RedisServerTransport("acl", receive_timeout_in_seconds=1, cluster={"hosts": seeds}).check_startup()
    # ...and without any one right the check fails, naming it.
    for node in shared_cluster.nodes:
        node.client().execute_command("ACL", "SETUSER", "check-user", "-" + right[1:])  # type: ignore[no-untyped-call]
    reset_backends()  # as a fresh worker: the slot map and the command table are read anew
    with pytest.raises(ConfigurationError, match=re.escape(right)):
        RedisServerTransport("acl", receive_timeout_in_seconds=1, cluster={"hosts": seeds}).check_startup()


def _migrate_slot(cluster: RedisClusterProcesses, slot: int, source: Any, target: Any, caller: _Caller) -> None:
    """Move ``slot`` from ``source`` to ``target`` as ``redis-cli --cluster reshard`` does, calls running."""
    source_id, target_id = cluster.node_id(source), cluster.node_id(target)
    source_client, target_client = source.client(), target.client()
    target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    # Calls keep running while the slot is half-moved (ASK redirects): wait for a few.
    done = len(caller.outcomes)
    while len(caller.outcomes) < done + 10:
        time.sleep(0.02)
    while keys := source_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        source_client.execute_command("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)
    for master in cluster.masters():
        master.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)  # type: ignore[no-untyped-call]


def test_calls_continue_while_a_service_slot_moves(shared_cluster: RedisClusterProcesses) -> None:
    service = "moving"
    slot = key_slot(_request_key(service).encode())
    source = shared_cluster.slot_owners()[slot]
    target = next(master for master in shared_cluster.masters() if master.port != source.port)
    settings = _settings(shared_cluster)
    worker = _Worker(service, settings)
    worker.start()
    caller = _Caller(service, settings, call_timeout=5.0)
    mover = threading.Thread(target=_migrate_slot, args=(shared_cluster, slot, source, target, caller), daemon=True)
    try:
        assert [caller.call() for _ in range(5)] == [None] * 5
        mover.start()
        while mover.is_alive():
            caller.call()
        mover.join()
        after = [caller.call() for _ in range(10)]
    finally:
        worker.stopping.set()
        worker.join(5)

    assert shared_cluster.slot_owners()[slot].port == target.port
    # Redirects are followed inside each command: no caller saw an error, and nothing ran twice.
    assert [error for _, error in caller.outcomes if error is not None] == [], caller.history()
    assert after == [None] * 10
    assert max(worker.served.values()) == 1
    assert max(caller.replies.values()) == 1
    assert sorted(caller.replies) == list(range(1, caller.number + 1))


def test_calls_resume_after_a_master_is_killed(own_cluster: RedisClusterProcesses) -> None:
    service = "failover"
    slot = key_slot(_request_key(service).encode())
    victim = own_cluster.slot_owners()[slot]
    settings = _settings(own_cluster)
    # The seeds must not be only the victim: a client must find the cluster without it.
    settings["cluster"]["hosts"] = [node.address for node in own_cluster.nodes if node is not victim]
    worker = _Worker(service, settings)
    worker.start()
    caller = _Caller(service, settings, call_timeout=2.0)
    promoted_at: float | None = None
    try:
        assert [caller.call() for _ in range(10)] == [None] * 10
        victim.kill()
        killed_at = time.monotonic()
        give_up = killed_at + 40
        while time.monotonic() < give_up:
            caller.call()
            if promoted_at is None:
                try:
                    owner = own_cluster.slot_owners()[slot]
                except Exception:  # a node mid-failover may not answer CLUSTER SLOTS
                    owner = victim
                if owner is not victim:
                    promoted_at = time.monotonic()
            last = [error for _, error in caller.outcomes[-10:]]
            if promoted_at is not None and last == [None] * 10:
                break
    finally:
        worker.stopping.set()
        worker.join(5)

    history = caller.history()
    assert promoted_at is not None, f"the replica was never promoted: {history}"
    # Only transient errors reached the caller, calls came back soon after the promotion, nothing ran twice.
    assert all(isinstance(error, TransientTransportError) for _, error in caller.outcomes if error), history
    first_success = min(at for at, error in caller.outcomes if error is None and at >= killed_at)
    assert first_success - promoted_at < 5.0, history
    assert [error for _, error in caller.outcomes[-10:]] == [None] * 10, history
    assert max(worker.served.values()) == 1
    assert max(caller.replies.values()) == 1


def test_a_send_during_failover_waits_for_the_new_master_within_its_deadline(
    own_cluster: RedisClusterProcesses,
) -> None:
    service = "patient"
    slot = key_slot(_request_key(service).encode())
    victim = own_cluster.slot_owners()[slot]
    settings: dict[str, Any] = {
        "cluster": {"hosts": [n.address for n in own_cluster.nodes if n is not victim], "failover_retries": 20}
    }
    client = RedisClientTransport(service, **settings)
    server = RedisServerTransport(service, receive_timeout_in_seconds=1, **settings)
    client.send_request_message(1, {}, job(n=1))
    assert server.receive_request_message().request_id == 1

    victim.kill()
    started = time.monotonic()
    # The connection to the dead master cannot be opened, then the cluster is down: neither ran the push,
    # so it is retried until the replica takes over, inside the call's 15 s.
    client.send_request_message(2, {}, job(n=2), message_expiry_in_seconds=15)
    assert time.monotonic() - started < 15
    assert own_cluster.slot_owners()[slot] is not victim
    assert server.receive_request_message().request_id == 2
    with pytest.raises(MessageReceiveTimeout):
        server.receive_request_message()  # pushed once, not twice


def test_the_server_warns_about_an_evicting_master(
    shared_cluster: RedisClusterProcesses, caplog: pytest.LogCaptureFixture
) -> None:
    master = shared_cluster.masters()[0]
    master.client().config_set("maxmemory-policy", "allkeys-lru")
    try:
        server = RedisServerTransport("evict", receive_timeout_in_seconds=0.2, **_settings(shared_cluster))
        with pytest.raises(MessageReceiveTimeout):
            server.receive_request_message()
    finally:
        master.client().config_set("maxmemory-policy", "noeviction")
    warnings = [r.getMessage() for r in caplog.records if "maxmemory-policy" in r.getMessage()]
    assert len(warnings) == 1
    assert f"cluster master {master.address}" in warnings[0]
    assert "allkeys-lru" in warnings[0]


def test_tls_to_every_node_with_the_ca_and_refused_without(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    cluster = start_masters_only_cluster(tmp_path / "cluster", 3, tls=tls)
    try:
        seeds = [f"rediss://{cluster.nodes[0].address}"]
        settings: dict[str, Any] = {
            "cluster": {"hosts": seeds},
            "connection_kwargs": {"ssl_ca_certs": str(tls.ca_cert)},
        }
        services = ["tls-a", "tls-b", "tls-c", "tls-d"]
        for number, service in enumerate(services):
            client = RedisClientTransport(service, **settings)
            server = RedisServerTransport(service, receive_timeout_in_seconds=2, **settings)
            client.send_request_message(number, {}, job(n=number))
            request_id, meta, _body = server.receive_request_message()
            assert meta is not None
            server.send_response_message(request_id, meta, response(n=number))
            assert client.receive_response_message(2).body == response(n=number)
        untrusting = RedisClientTransport("tls-a", cluster={"hosts": seeds})
        with pytest.raises(RedisSendConnectionError, match="certificate verify failed"):
            untrusting.send_request_message(9, {}, job(n=9), message_expiry_in_seconds=10)
    finally:
        cluster.stop()
