"""The asyncio Redis transport on a Redis Cluster: queues on their slots' masters, failover, TLS and ACL.

Real 6-node clusters (3 masters, 3 replicas) of private ``redis-server`` processes, as in
test_cluster.py (whose fixtures and documented ACL rule these tests reuse).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from redis.crc import key_slot

from pysoa.common.transport.async_base import IncomingRequest
from pysoa.errors import MessageReceiveTimeout, MessageSendError, TransientTransportError
from soa_redis import RedisSendConnectionError
from soa_redis._async import AsyncRedisClientTransport, AsyncRedisServerTransport

from .cluster_servers import RedisClusterProcesses, start_masters_only_cluster
from .helpers import (
    async_round_trip,
    job,
    receives_surviving_cancellation,
    reply_pushed_while_the_loop_is_busy,
    request_pushed_while_the_loop_is_busy,
    response,
)
from .servers import free_port, make_tls_files
from .test_cluster import _documented_cluster_rules, _request_key, _settings, own_cluster, shared_cluster

__all__ = ["own_cluster", "shared_cluster"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_requests_and_replies_live_on_their_slots_masters(shared_cluster: RedisClusterProcesses) -> None:
    settings = _settings(shared_cluster)
    owners = shared_cluster.slot_owners()
    # Services whose request queues are on three different masters.
    services: dict[int, str] = {}
    number = 0
    while len(services) < 3:
        service = f"async-spread-{number}"
        services.setdefault(owners[key_slot(_request_key(service).encode())].port, service)
        number += 1

    async def main() -> None:
        for position, service in enumerate(services.values()):
            client = AsyncRedisClientTransport(service, **settings)
            server = AsyncRedisServerTransport(service, receive_timeout_in_seconds=2, **settings)
            try:
                await client.send_request_message(position, {}, job(n=position))
                owner = shared_cluster.master_for_key(_request_key(service))
                assert owner.client().llen(_request_key(service)) == 1
                incoming = await server.receive_request_message()
                await server.send_response_message(incoming.route, position, incoming.meta, response(n=position))
                reply_key = f"pysoa:{client.reply_to}"
                assert shared_cluster.master_for_key(reply_key).client().llen(reply_key) == 1
                assert (await client.receive_response_message(2)).body == response(n=position)
            finally:
                await client.aclose()
                await server.aclose()

    asyncio.run(main())


def test_chunked_responses_and_a_full_queue(shared_cluster: RedisClusterProcesses) -> None:
    settings = _settings(shared_cluster)

    async def main() -> None:
        client = AsyncRedisClientTransport("async-chunky", protocol_version=3, **settings)
        server = AsyncRedisServerTransport(
            "async-chunky", receive_timeout_in_seconds=2, chunk_messages_larger_than_bytes=102_400, **settings
        )
        full = AsyncRedisClientTransport("async-full", queue_capacity=1, queue_full_retries=0, **settings)
        try:
            await client.send_request_message(7, {}, job())
            incoming = await server.receive_request_message()
            big = response(text="x" * 450_000)
            await server.send_response_message(incoming.route, 7, incoming.meta, big)
            assert (await client.receive_response_message(5)).body == big

            await full.send_request_message(1, {}, job(n=1))
            with pytest.raises(MessageSendError, match="full"):
                await full.send_request_message(2, {}, job(n=2))
        finally:
            for transport in (client, server, full):
                await transport.aclose()

    asyncio.run(main())
    assert shared_cluster.master_for_key(_request_key("async-full")).client().llen(_request_key("async-full")) == 1


def test_an_unreachable_cluster_fails_transiently_at_the_deadline() -> None:
    async def main() -> float:
        client = AsyncRedisClientTransport("nowhere", cluster={"hosts": [f"127.0.0.1:{free_port()}"]})
        started = time.monotonic()
        try:
            with pytest.raises(RedisSendConnectionError, match="Redis Cluster"):
                await client.send_request_message(1, {}, job(n=1), message_expiry_in_seconds=1.5)
        finally:
            await client.aclose()
        return time.monotonic() - started

    # Retried (nothing was sent) until just before the deadline: not given up at once, never late.
    assert 1.0 < asyncio.run(main()) <= 1.75


def test_an_acl_user_limited_to_its_service_works(shared_cluster: RedisClusterProcesses) -> None:
    rules = _documented_cluster_rules("async-acl")
    for node in shared_cluster.nodes:
        node.client().acl_setuser("async-acl-user", reset=True)
        node.client().execute_command("ACL", "SETUSER", "async-acl-user", *rules)  # type: ignore[no-untyped-call]
    cluster = {"hosts": [f"redis://async-acl-user:secret@{address}" for address in shared_cluster.seeds[:2]]}

    async def main() -> None:
        client = AsyncRedisClientTransport("async-acl", cluster=cluster)
        server = AsyncRedisServerTransport("async-acl", receive_timeout_in_seconds=2, cluster=cluster)
        other = AsyncRedisClientTransport("other", cluster=cluster)
        try:
            assert await async_round_trip(client, server, 1) == response(n=1)
            with pytest.raises(MessageSendError, match="no permissions to access one of the keys"):
                await other.send_request_message(2, {}, job(n=2))
        finally:
            for transport in (client, server, other):
                await transport.aclose()

    asyncio.run(main())


def test_tls_to_every_node_with_the_ca_and_refused_without(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    cluster = start_masters_only_cluster(tmp_path / "cluster", 3, tls=tls)
    seeds = [f"rediss://{cluster.nodes[0].address}"]
    settings: dict[str, Any] = {"cluster": {"hosts": seeds}, "connection_kwargs": {"ssl_ca_certs": str(tls.ca_cert)}}

    async def main() -> None:
        for number, service in enumerate(["tls-a", "tls-b", "tls-c", "tls-d"]):
            client = AsyncRedisClientTransport(service, **settings)
            server = AsyncRedisServerTransport(service, receive_timeout_in_seconds=2, **settings)
            try:
                assert await async_round_trip(client, server, number) == response(n=number)
            finally:
                await client.aclose()
                await server.aclose()
        untrusting = AsyncRedisClientTransport("tls-a", cluster={"hosts": seeds})
        try:
            with pytest.raises(RedisSendConnectionError, match="certificate verify failed"):
                await untrusting.send_request_message(9, {}, job(n=9), message_expiry_in_seconds=3)
        finally:
            await untrusting.aclose()

    try:
        asyncio.run(main())
    finally:
        cluster.stop()


class _Worker:
    """An async server loop that rides out transient errors and records every request it answers."""

    def __init__(self, service: str, settings: dict[str, Any]) -> None:
        self.transport = AsyncRedisServerTransport(service, receive_timeout_in_seconds=0.5, **settings)
        self.served: Counter[Any] = Counter()
        self.errors: list[Exception] = []

    async def run(self) -> None:
        while True:
            try:
                incoming: IncomingRequest = await self.transport.receive_request_message()
                assert incoming.body is not None
                self.served[incoming.request_id] += 1
                number = incoming.body["actions"][0]["body"]["n"]
                await self.transport.send_response_message(
                    incoming.route, incoming.request_id, incoming.meta, response(n=number)
                )
            except MessageReceiveTimeout:
                continue
            except TransientTransportError as exc:
                self.errors.append(exc)
                await asyncio.sleep(0.05)


class _Caller:
    """Steady calls through one async client transport; records each outcome and every reply seen."""

    def __init__(self, service: str, settings: dict[str, Any], call_timeout: float) -> None:
        self.client = AsyncRedisClientTransport(service, **settings)
        self.call_timeout = call_timeout
        self.number = 0
        self.outcomes: list[tuple[float, Exception | None]] = []
        self.late: list[float] = []
        self.replies: Counter[Any] = Counter()

    async def call(self) -> Exception | None:
        number = self.number = self.number + 1
        deadline = time.monotonic() + self.call_timeout
        error: Exception | None = None
        try:
            await self.client.send_request_message(number, {}, job(n=number), self.call_timeout)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise MessageReceiveTimeout("call timed out")
                message = await self.client.receive_response_message(remaining)
                self.replies[message.request_id] += 1
                assert message.body == response(n=message.request_id)
                if message.request_id == number:
                    break
        except TransientTransportError as exc:
            error = exc
        finished = time.monotonic()
        self.late.append(finished - deadline)
        self.outcomes.append((finished, error))
        return error

    def history(self) -> list[tuple[float, str]]:
        start = self.outcomes[0][0] if self.outcomes else 0.0
        return [(round(at - start, 2), type(error).__name__ if error else "ok") for at, error in self.outcomes]


# Also checks (pytest turns warnings into errors) that no socket to the killed master is left unclosed.
def test_async_calls_resume_after_a_master_is_killed(own_cluster: RedisClusterProcesses) -> None:
    service = "async-failover"
    slot = key_slot(_request_key(service).encode())
    victim = own_cluster.slot_owners()[slot]
    settings = _settings(own_cluster)
    # The seeds must not be only the victim: a client must find the cluster without it.
    settings["cluster"]["hosts"] = [node.address for node in own_cluster.nodes if node is not victim]
    promoted_at: float | None = None
    killed_at = 0.0

    async def main() -> tuple[_Worker, _Caller]:
        nonlocal promoted_at, killed_at
        worker = _Worker(service, settings)
        caller = _Caller(service, settings, call_timeout=2.0)
        serving = asyncio.create_task(worker.run())
        try:
            assert [await caller.call() for _ in range(10)] == [None] * 10
            victim.kill()
            killed_at = time.monotonic()
            give_up = killed_at + 40
            while time.monotonic() < give_up:
                await caller.call()
                if promoted_at is None:
                    try:
                        owner = own_cluster.slot_owners()[slot]
                    except Exception:  # a node mid-failover may not answer CLUSTER SLOTS
                        owner = victim
                    if owner is not victim:
                        promoted_at = time.monotonic()
                if promoted_at is not None and [error for _, error in caller.outcomes[-10:]] == [None] * 10:
                    break
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
            await worker.transport.aclose()
            await caller.client.aclose()
        return worker, caller

    worker, caller = asyncio.run(main())
    history = caller.history()
    assert promoted_at is not None, f"the replica was never promoted: {history}"
    # Only transient errors reached the caller, calls came back soon after the promotion, nothing ran twice.
    assert all(isinstance(error, TransientTransportError) for _, error in caller.outcomes if error), history
    first_success = min(at for at, error in caller.outcomes if error is None and at >= killed_at)
    assert first_success - promoted_at < 5.0, history
    assert [error for _, error in caller.outcomes[-10:]] == [None] * 10, history
    assert max(worker.served.values()) == 1
    assert max(caller.replies.values()) == 1
    # No call outlived its deadline, failover or not.
    assert max(caller.late) <= 0.25, history


def test_an_async_send_during_failover_waits_for_the_new_master_within_its_deadline(
    own_cluster: RedisClusterProcesses,
) -> None:
    service = "async-patient"
    slot = key_slot(_request_key(service).encode())
    victim = own_cluster.slot_owners()[slot]
    settings: dict[str, Any] = {
        "cluster": {"hosts": [n.address for n in own_cluster.nodes if n is not victim], "failover_retries": 20}
    }

    async def main() -> float:
        client = AsyncRedisClientTransport(service, **settings)
        server = AsyncRedisServerTransport(service, receive_timeout_in_seconds=1, **settings)
        try:
            await client.send_request_message(1, {}, job(n=1))
            assert (await server.receive_request_message()).request_id == 1
            victim.kill()
            started = time.monotonic()
            # Nothing ran the push while the master was gone, so it is retried until the replica takes
            # over, inside the call's 15 s.
            await client.send_request_message(2, {}, job(n=2), message_expiry_in_seconds=15)
            waited = time.monotonic() - started
            assert (await server.receive_request_message()).request_id == 2
            with pytest.raises(MessageReceiveTimeout):
                await server.receive_request_message()  # pushed once, not twice
            return waited
        finally:
            await client.aclose()
            await server.aclose()

    assert asyncio.run(main()) < 15
    assert own_cluster.slot_owners()[slot] is not victim


def test_a_cancelled_async_receive_ends_whenever_the_cancellation_lands(shared_cluster: RedisClusterProcesses) -> None:
    """Cancelled at each step of a receive in turn, the task ends cancelled."""
    assert asyncio.run(receives_surviving_cancellation("async-cancelled", _settings(shared_cluster))) == []


def test_a_request_pushed_while_the_servers_loop_is_busy_is_not_lost(shared_cluster: RedisClusterProcesses) -> None:
    assert asyncio.run(request_pushed_while_the_loop_is_busy("async-busy-server", _settings(shared_cluster))) == job(
        n=1
    )


def test_a_reply_pushed_while_the_clients_loop_is_busy_is_not_lost(shared_cluster: RedisClusterProcesses) -> None:
    assert asyncio.run(reply_pushed_while_the_loop_is_busy("async-busy-client", _settings(shared_cluster))) == response(
        n=1
    )


def test_a_receive_from_a_stalled_master_ends_a_second_past_its_block(tmp_path: Path) -> None:
    """A master that stops answering (without closing its sockets) holds a pop for its block plus one second of
    grace: never less (an answer handed late is still read), never much more (the blocking client's sockets have
    no timeout here, so only that bound ends the wait)."""
    cluster = start_masters_only_cluster(tmp_path / "cluster", 1)  # no replica: no failover while it is stopped
    settings: dict[str, Any] = {"cluster": {"hosts": cluster.seeds}}
    block = 0.3

    async def main() -> float:
        client = AsyncRedisClientTransport("stalled", **settings)
        try:
            with pytest.raises(MessageReceiveTimeout):
                await client.receive_response_message(0.1)  # the slot map read and the connection open
            os.kill(cluster.nodes[0].pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                with pytest.raises(MessageReceiveTimeout):
                    await client.receive_response_message(block)
                return time.monotonic() - started
            finally:
                os.kill(cluster.nodes[0].pid, signal.SIGCONT)
        finally:
            await client.aclose()

    try:
        waited = asyncio.run(main())
    finally:
        cluster.stop()
    assert block + 1.0 <= waited < block + 1.0 + 0.5
