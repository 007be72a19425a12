"""The server transport's start-up check against real Redis servers with ACL users and TLS.

The ACL rules under test are read from the plugin README, so the documented user is the tested one:
it must be enough for a real client and server, and each right in it must be needed (the check
fails naming it when it is missing).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from pysoa.errors import ConfigurationError, MessageReceiveTimeout
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

from .helpers import job, response
from .servers import RedisProcess, TLSFiles, start_redis

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]
README = REPO / "plugins" / "redis_transport" / "README.md"
OPERATIONS = REPO / "docs" / "operations.md"
USER, PASSWORD = "orders-user", "secret"
CHUNK_THRESHOLD = 102_400


def _documented_rules(path: Path = README, heading: str = "## ACL users") -> tuple[list[str], list[str]]:
    """A document's ``ACL SETUSER orders-user`` rules: (every client and server, a chunking server's extra)."""
    section = path.read_text().split(heading, 1)[1]
    block = section.split("```", 2)[1]
    commands = re.findall(r"^ACL SETUSER orders-user (.*?)(?=^ACL |^#|\Z)", block, re.MULTILINE | re.DOTALL)
    base, chunking = (command.split() for command in commands)
    return base, chunking


BASE_RULES, CHUNKING_RULES = _documented_rules()
RIGHTS = [rule for rule in BASE_RULES + CHUNKING_RULES if rule[0] in "+~"]


def _set_user(server: RedisProcess, rules: list[str]) -> None:
    admin = server.client()
    admin.execute_command("ACL", "DELUSER", USER)  # type: ignore[no-untyped-call]
    admin.execute_command("ACL", "SETUSER", USER, *rules)  # type: ignore[no-untyped-call]


def _settings(server: RedisProcess, **extra: Any) -> dict[str, Any]:
    return {
        "url": server.url,
        "connection_kwargs": {"username": USER, "password": PASSWORD, **extra.pop("connection_kwargs", {})},
        **extra,
    }


def _server(server: RedisProcess, chunking: bool = True, **extra: Any) -> RedisServerTransport:
    if chunking:
        extra["chunk_messages_larger_than_bytes"] = CHUNK_THRESHOLD
    return RedisServerTransport("orders", receive_timeout_in_seconds=2, **_settings(server, **extra))


def _round_trips(server: RedisProcess, chunking: bool, **extra: Any) -> None:
    """A real client and server with the user: a small response, and a chunked one when ``chunking``."""
    client = RedisClientTransport("orders", **_settings(server, **extra))
    worker = _server(server, chunking, **extra)
    worker.check_startup()
    sizes = [10, 3 * CHUNK_THRESHOLD] if chunking else [10]
    for request_id, size in enumerate(sizes, 1):
        client.send_request_message(request_id, {}, job(n=request_id))
        got_id, meta, _body = worker.receive_request_message()
        assert meta is not None
        worker.send_response_message(got_id, meta, response(blob="x" * size))
        assert client.receive_response_message(5).body == response(blob="x" * size)


def test_the_readme_documents_a_minimal_user() -> None:
    # Guard for the parser: the rules below are what the README says, nothing left out.
    assert BASE_RULES[:3] == ["on", f">{PASSWORD}", "resetkeys"]
    assert "-@all" in BASE_RULES
    assert {rule for rule in RIGHTS if rule[0] == "+"} == {
        "+rpush", "+expire", "+lrem", "+blpop", "+lpop", "+time", "+llen", "+script|load", "+evalsha",
    }  # fmt: skip


def test_the_operations_guide_documents_the_same_user() -> None:
    assert _documented_rules(OPERATIONS, "## Redis: the service's user") == (BASE_RULES, CHUNKING_RULES)


def test_the_documented_user_serves_a_client_and_a_chunking_server(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    _set_user(redis_server, BASE_RULES + CHUNKING_RULES)
    with caplog.at_level(logging.INFO, "soa_redis"):
        _round_trips(redis_server, chunking=True)
    # The user may not run INFO or CONFIG: the eviction check was skipped, and said so.
    skipped = [r for r in caplog.records if "Skipped the maxmemory-policy check" in r.getMessage()]
    assert len(skipped) == 1
    assert redis_server.client().keys("*") == []  # the probe left nothing behind


def test_a_call_that_times_out_with_the_documented_user_raises_a_timeout(redis_server: RedisProcess) -> None:
    # The last ~0.1 s before a deadline is polled with LPOP: without +lpop this would be a permission error.
    _set_user(redis_server, BASE_RULES)
    client = RedisClientTransport("orders", **_settings(redis_server))
    client.send_request_message(1, {}, job(n=1))
    with pytest.raises(MessageReceiveTimeout):
        client.receive_response_message(0.3)


def test_a_server_without_chunking_needs_only_the_base_rules(redis_server: RedisProcess) -> None:
    _set_user(redis_server, BASE_RULES)
    _round_trips(redis_server, chunking=False)


@pytest.mark.parametrize("right", RIGHTS)
def test_the_check_names_each_documented_right_that_is_missing(redis_server: RedisProcess, right: str) -> None:
    _set_user(redis_server, [rule for rule in BASE_RULES + CHUNKING_RULES if rule != right])
    with pytest.raises(ConfigurationError) as info:
        _server(redis_server).check_startup()
    message = str(info.value)
    # Named exactly: "~pysoa:service.orders" must not match inside "~pysoa:service.orders.*".
    assert re.search(re.escape(right) + r"(?![.*|\w])", message), message
    assert USER in message
    assert "\n" not in message
    admin = redis_server.client()
    assert all(0 < admin.ttl(key) <= 10 for key in admin.keys("*"))  # a cut-short probe expires soon


def test_the_check_never_takes_a_waiting_request(redis_server: RedisProcess) -> None:
    _set_user(redis_server, BASE_RULES + CHUNKING_RULES)
    client = RedisClientTransport("orders", **_settings(redis_server))
    client.send_request_message(7, {}, job(n=7))
    worker = _server(redis_server)
    worker.check_startup()
    assert redis_server.client().llen("pysoa:service.orders") == 1
    assert worker.receive_request_message().request_id == 7


def test_a_database_other_than_0_needs_select(redis_server: RedisProcess) -> None:
    _set_user(redis_server, BASE_RULES)
    url = redis_server.url.rsplit("/", 1)[0] + "/3"
    with pytest.raises(ConfigurationError, match=r"lacks the ACL right \+select \(for database 3\)"):
        _server(redis_server, chunking=False, url=url).check_startup()
    _set_user(redis_server, [*BASE_RULES, "+select"])
    _server(redis_server, chunking=False, url=url).check_startup()


def test_a_wrong_password_fails_the_check(redis_server: RedisProcess) -> None:
    _set_user(redis_server, BASE_RULES)
    worker = _server(redis_server, connection_kwargs={"password": "wrong"})
    with pytest.raises(ConfigurationError, match=r"refused the login of user 'orders-user'"):
        worker.check_startup()


def test_an_unreachable_redis_is_not_a_configuration_error(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.stop()
    worker = _server(redis_server, connection_kwargs={"socket_connect_timeout": 1})
    with caplog.at_level(logging.WARNING, "soa_redis"):
        worker.check_startup()  # an outage: the server keeps trying as it always did
    assert any("Could not check Redis at" in r.getMessage() for r in caplog.records)


def test_only_the_first_worker_reports_a_skipped_check(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    _set_user(redis_server, BASE_RULES)
    with caplog.at_level(logging.INFO, "soa_redis"):
        RedisServerTransport("orders", instance_index=2, **_settings(redis_server)).check_startup()
    assert not any("Skipped" in r.getMessage() for r in caplog.records)


# --- TLS --------------------------------------------------------------------------------------------------


def test_the_documented_user_works_over_tls(tls_redis: RedisProcess, tls_files: TLSFiles) -> None:
    _set_user(tls_redis, BASE_RULES + CHUNKING_RULES)
    _round_trips(tls_redis, chunking=True, connection_kwargs={"ssl_ca_certs": str(tls_files.ca_cert)})


def test_an_untrusted_certificate_fails_the_check(tls_redis: RedisProcess) -> None:
    with pytest.raises(ConfigurationError, match=r"TLS with Redis at rediss://.* failed.*certificate verify failed"):
        RedisServerTransport("orders", url=tls_redis.url).check_startup()


def test_a_plain_client_on_a_tls_port_is_told_to_use_tls(tls_redis: RedisProcess) -> None:
    url = f"redis://{tls_redis.host}:{tls_redis.port}/0"
    with pytest.raises(ConfigurationError, match=r"only speaks TLS on that port: use rediss://"):
        RedisServerTransport("orders", url=url).check_startup()


def test_a_tls_client_on_a_plain_port_is_told_to_drop_tls(tmp_path: Path) -> None:
    plain = start_redis(tmp_path / "plain")
    try:
        url = f"rediss://{plain.host}:{plain.port}/0"
        worker = RedisServerTransport("orders", url=url, connection_kwargs={"socket_connect_timeout": 1})
        with pytest.raises(ConfigurationError, match=r"does not speak TLS on that port: use redis://"):
            worker.check_startup()
    finally:
        plain.stop()


def test_a_read_only_replica_fails_the_check(tmp_path: Path) -> None:
    from .servers import HOST, free_port

    replica = start_redis(tmp_path / "replica", "--replicaof", HOST, str(free_port()))
    try:
        with pytest.raises(ConfigurationError, match=r"is a read-only replica: point the server of 'orders' at"):
            RedisServerTransport("orders", url=replica.url).check_startup()
    finally:
        replica.stop()
