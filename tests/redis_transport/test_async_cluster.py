"""The asyncio Redis transport on a Redis Cluster: queues on their slots' masters, failover, TLS and ACL.

Real 6-node clusters (3 masters, 3 replicas) of private ``redis-server`` processes, as in
test_cluster.py (whose fixtures and documented ACL rule these tests reuse).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from redis.crc import key_slot

from pysoa.errors import MessageReceiveTimeout, MessageSendError
from soa_redis import RedisSendConnectionError
from soa_redis._async import AsyncRedisClientTransport, AsyncRedisServerTransport

from .cluster_servers import RedisClusterProcesses, start_masters_only_cluster
from .helpers import job, response
from .servers import free_port, make_tls_files
from .test_cluster import _documented_cluster_rules, _request_key, _settings, own_cluster, shared_cluster

__all__ = ["own_cluster", "shared_cluster"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.redis, pytest.mark.slow]


async def _round_trip(client: AsyncRedisClientTransport, server: AsyncRedisServerTransport, number: int) -> Any:
    await client.send_request_message(number, {}, job(n=number))
    incoming = await server.receive_request_message()
    assert incoming.request_id == number
    await server.send_response_message(incoming.route, incoming.request_id, incoming.meta, response(n=number))
    return (await client.receive_response_message(2)).body


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
            assert await _round_trip(client, server, 1) == response(n=1)
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
                assert await _round_trip(client, server, number) == response(n=number)
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
