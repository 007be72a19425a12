"""TLS (a throwaway CA made in the test) and Redis 6+ ACL users limited to one service's keys."""

from __future__ import annotations

from typing import Any

import pytest

from pysoa.errors import MessageSendError
from soa_redis import RedisSendConnectionError
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .helpers import job, response
from .servers import RedisProcess, TLSFiles
from .test_startup_check import BASE_RULES

pytestmark = pytest.mark.redis


def _round_trip(client: RedisClientTransport, server: RedisServerTransport) -> None:
    client.send_request_message(1, {}, job(n=1))
    request_id, meta, _body = server.receive_request_message()
    assert meta is not None
    server.send_response_message(request_id, meta, response(n=1))
    assert client.receive_response_message(2).body == response(n=1)


def test_tls_round_trip(tls_redis: RedisProcess, tls_files: TLSFiles) -> None:
    assert tls_redis.url.startswith("rediss://")
    settings: dict[str, Any] = {"url": tls_redis.url, "connection_kwargs": {"ssl_ca_certs": str(tls_files.ca_cert)}}
    client = RedisClientTransport("svc", **settings)
    server = RedisServerTransport("svc", receive_timeout_in_seconds=2, **settings)
    _round_trip(client, server)


def test_tls_checks_the_servers_certificate(tls_redis: RedisProcess) -> None:
    # Without our CA the server's certificate cannot be trusted: refuse rather than talk in the clear.
    client = RedisClientTransport("svc", url=tls_redis.url)
    with pytest.raises(RedisSendConnectionError, match="certificate verify failed"):
        client.send_request_message(1, {}, job())


def test_plain_redis_cannot_talk_to_a_tls_port(tls_redis: RedisProcess) -> None:
    client = RedisClientTransport("svc", url=f"redis://{tls_redis.host}:{tls_redis.port}/0")
    with pytest.raises(MessageSendError):
        client.send_request_message(1, {}, job())


# The README's user, read from the README (test_startup_check.py shows each right is needed): its own
# queues, pushes with expiry, blocking pops, the polled last stretch before a deadline, and TIME.
ACL_RULES = [">s3cret" if rule.startswith(">") else rule for rule in BASE_RULES]


@pytest.fixture
def acl_redis(redis_server: RedisProcess) -> RedisProcess:
    redis_server.client().execute_command("ACL", "SETUSER", "orders-user", *ACL_RULES)  # type: ignore[no-untyped-call]
    return redis_server


def test_an_acl_user_serves_its_own_service(acl_redis: RedisProcess) -> None:
    url = f"redis://orders-user:s3cret@{acl_redis.host}:{acl_redis.port}/0"
    client = RedisClientTransport("orders", url=url)
    server = RedisServerTransport("orders", url=url, receive_timeout_in_seconds=2)
    _round_trip(client, server)


def test_an_acl_user_cannot_touch_another_services_queues(acl_redis: RedisProcess) -> None:
    url = f"redis://orders-user:s3cret@{acl_redis.host}:{acl_redis.port}/0"
    client = RedisClientTransport("billing", url=url)
    with pytest.raises(MessageSendError, match=r"NoPermissionError: .*this user has no permissions") as info:
        client.send_request_message(1, {}, job())
    assert not isinstance(info.value, RedisSendConnectionError)  # Redis answered: a permission problem
    assert acl_redis.client().keys("*") == []


def test_a_wrong_password_is_a_connection_error(acl_redis: RedisProcess) -> None:
    client = RedisClientTransport(
        "orders",
        url=f"redis://{acl_redis.host}:{acl_redis.port}/0",
        connection_kwargs={"username": "orders-user", "password": "nope"},
    )
    with pytest.raises(RedisSendConnectionError):
        client.send_request_message(1, {}, job())
