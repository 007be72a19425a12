"""Several standard Redis hosts: request queues round-robin, reply queues where PySOA's crc32 ring puts them."""

from __future__ import annotations

import pytest

from soa_redis._ring import reply_queue_host_index
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .helpers import job, response
from .servers import RedisProcess

pytestmark = pytest.mark.redis

QUEUE = "pysoa:service.svc"


def _clients_on_both_hosts(urls: list[str]) -> list[RedisClientTransport]:
    """Client transports whose reply queues (random ids) land on host 0 and on host 1."""
    clients: list[RedisClientTransport] = []
    seen: set[int] = set()
    while len(clients) < 6 or seen != {0, 1}:
        client = RedisClientTransport("svc", urls=urls)
        seen.add(reply_queue_host_index("pysoa:" + client._state().reply_to, 2))
        clients.append(client)
    return clients


def test_queues_are_placed_like_pysoa(two_redis_servers: tuple[RedisProcess, RedisProcess]) -> None:
    hosts = list(two_redis_servers)
    urls = [host.url for host in hosts]
    raws = [host.client() for host in hosts]
    clients = _clients_on_both_hosts(urls)
    for number, client in enumerate(clients):
        client.send_request_message(number, {}, job(n=number))
    # Every send moves to the next host.
    lengths = [raw.llen(QUEUE) for raw in raws]
    assert sum(lengths) == len(clients)
    assert abs(lengths[0] - lengths[1]) <= 1

    # The server lists the same hosts in PySOA's settings form.
    server = RedisServerTransport(
        "svc",
        backend_type="redis.standard",
        backend_layer_kwargs={"hosts": [(host.host, host.port) for host in hosts]},
        receive_timeout_in_seconds=2,
    )
    for _ in clients:
        request_id, meta, _body = server.receive_request_message()
        assert meta is not None
        server.send_response_message(request_id, meta, response(n=request_id))
    assert [raw.llen(QUEUE) for raw in raws] == [0, 0]

    for number, client in enumerate(clients):
        key = "pysoa:" + client._state().reply_to
        expected = reply_queue_host_index(key, 2)
        assert raws[expected].exists(key) == 1
        assert raws[1 - expected].exists(key) == 0
        assert client.receive_response_message(2).body == response(n=number)


def test_only_a_lone_host_writes_the_wait_for_a_reply_behind_the_request(
    two_redis_servers: tuple[RedisProcess, RedisProcess],
) -> None:
    hosts = list(two_redis_servers)
    several = RedisClientTransport("other", urls=[host.url for host in hosts])
    alone = RedisClientTransport("svc", urls=[hosts[0].url])
    assert several._core.backend.single_host is None
    assert alone._core.backend.single_host is not None
    # With several hosts the reply queue may be on another host than the request queue: push and pop apart.
    several.send_request_message(1, {}, job(n=1))
    assert several._state().pending is None
    alone.send_request_message(1, {}, job(n=1))
    assert alone._state().pending is not None
    server = RedisServerTransport("svc", url=hosts[0].url, receive_timeout_in_seconds=2)
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    server.send_response_message(request_id, meta, response(n=request_id))
    assert alone.receive_response_message(2).body == response(n=1)
    assert alone._state().pending is None
    server.close()
