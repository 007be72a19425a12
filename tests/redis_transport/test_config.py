"""Settings: every accepted backend form, PySOA's names, defaults and the errors for bad settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conformity import fields

import soa_redis
from pysoa.errors import ConfigurationError
from soa_json.serializer import JSONSerializer
from soa_redis._config import (
    CLIENT_SETTINGS_SCHEMA,
    SERVER_SETTINGS_SCHEMA,
    backend_config,
    parse_redis_url,
    transport_options,
)
from soa_redis.client import RedisClientTransport
from soa_redis.server import RedisServerTransport

DEFAULTS = {"socket_connect_timeout": 5.0, "socket_timeout": 5.0, "socket_keepalive": True}


def test_nothing_given_means_local_redis_db_0() -> None:
    config = backend_config({})
    assert not config.sentinel
    assert config.hosts == ({**DEFAULTS, "host": "127.0.0.1", "port": 6379, "db": 0},)
    assert config.labels == ("redis://127.0.0.1:6379/0",)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://h", {"host": "h", "port": 6379}),
        ("redis://h:7000/3", {"host": "h", "port": 7000, "db": 3}),
        ("rediss://h:7000", {"host": "h", "port": 7000, "ssl": True}),
        ("redis://:s%40cret@h", {"host": "h", "port": 6379, "password": "s@cret"}),
        ("redis://svc:pw@h/1", {"host": "h", "port": 6379, "db": 1, "username": "svc", "password": "pw"}),
        ("unix:///run/redis.sock?db=2", {"unix_socket_path": "/run/redis.sock", "db": 2}),
        ("redis://[::1]:7000", {"host": "::1", "port": 7000}),
        (
            "rediss://h?ssl_ca_certs=/ca.pem&ssl_check_hostname=false&socket_timeout=2.5",
            {"host": "h", "port": 6379, "ssl": True, "ssl_ca_certs": "/ca.pem", "ssl_check_hostname": False,
             "socket_timeout": 2.5},
        ),
    ],
)  # fmt: skip
def test_redis_urls(url: str, expected: dict[str, Any]) -> None:
    assert parse_redis_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h", "scheme"),
        ("redis://h:99999", "Invalid Redis URL"),
        ("redis://", "no host"),
        ("redis://h/zero", "database number"),
        ("unix://", "socket path"),
        ("redis://h?frobnicate=1", "unsupported parameter 'frobnicate'"),
        ("redis://h?db=x", "bad value for 'db'"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_redis_url(url)


def test_url_details_win_over_connection_kwargs() -> None:
    config = backend_config({"url": "redis://:fromurl@h/2", "connection_kwargs": {"password": "x", "db": 5}})
    assert config.hosts[0]["password"] == "fromurl"
    assert config.hosts[0]["db"] == 2


def test_several_urls_keep_their_order() -> None:
    config = backend_config({"urls": ["redis://b:1", "redis://a:2"], "connection_kwargs": {"password": "pw"}})
    assert [(h["host"], h["port"], h["password"]) for h in config.hosts] == [("b", 1, "pw"), ("a", 2, "pw")]


def test_pysoa_standard_settings() -> None:
    config = backend_config(
        {
            "backend_type": "redis.standard",
            "backend_layer_kwargs": {
                "hosts": ["h1", ("h2", 7001), ["h3", 7002], "h4:7003", "redis://h5:7004"],
                "redis_port": 6380,
                "redis_db": 4,
                "connection_kwargs": {"password": "pw", "db": 9},
            },
        }
    )
    assert [(h["host"], h["port"], h["db"], h["password"]) for h in config.hosts] == [
        ("h1", 6380, 4, "pw"),
        ("h2", 7001, 4, "pw"),
        ("h3", 7002, 4, "pw"),
        ("h4", 7003, 4, "pw"),
        ("h5", 7004, 4, "pw"),
    ]


def test_pysoa_standard_without_hosts_is_localhost() -> None:
    config = backend_config({"backend_type": "redis.standard"})
    assert [(h["host"], h["port"]) for h in config.hosts] == [("localhost", 6379)]


def test_pysoa_sentinel_settings() -> None:
    config = backend_config(
        {
            "backend_type": "redis.sentinel",
            "backend_layer_kwargs": {
                "hosts": ["s1", ("s2", 26380)],
                "sentinel_services": ["m1", "m2"],
                "sentinel_failover_retries": 2,
                "sentinel_kwargs": {"password": "sentinel-pw"},
                "connection_kwargs": {"password": "master-pw"},
                "redis_db": 1,
            },
        }
    )
    assert config.sentinel
    assert config.hosts == ({"host": "s1", "port": 26379}, {"host": "s2", "port": 26380})
    assert config.sentinel_services == ("m1", "m2")
    assert config.sentinel_failover_retries == 2
    assert config.sentinel_kwargs["password"] == "sentinel-pw"
    assert (config.connection_kwargs["password"], config.connection_kwargs["db"]) == ("master-pw", 1)


def test_simple_sentinel_form() -> None:
    config = backend_config({"sentinel": {"hosts": ["127.0.0.1:5000"]}, "connection_kwargs": {"username": "u"}})
    assert config.sentinel
    assert config.hosts == ({"host": "127.0.0.1", "port": 5000},)
    assert config.sentinel_services is None  # discovered with SENTINEL MASTERS
    assert config.connection_kwargs["username"] == "u"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "redis://a", "urls": ["redis://b"]}, "one backend form"),
        ({"url": "redis://a", "backend_type": "redis.standard"}, "one backend form"),
        ({"urls": ["a:1"]}, "list of redis://"),
        ({"backend_layer_kwargs": {}, "connection_kwargs": {}}, "inside backend_layer_kwargs"),
        ({"backend_type": "redis.standard", "backend_layer_kwargs": {"sentinel_services": ["m"]}}, "only apply"),
        ({"backend_type": "redis.nope"}, "backend_type must be"),
        ({"connection_kwargs": {"decode_responses": True}}, "decode_responses"),
        ({"connection_kwargs": {"host": "x"}}, "host list decides"),
        ({"sentinel": {"hosts": ["redis://s:26379"]}}, "Invalid Sentinel host"),
        ({"sentinel": {"hosts": ["s"], "services": ["m", "m"]}}, "distinct"),
    ],
)
def test_contradictory_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        backend_config(settings)


def test_equal_settings_share_a_cache_key() -> None:
    first = backend_config({"url": "redis://h/1", "connection_kwargs": {"password": "a", "ssl_ca_certs": "/x"}})
    second = backend_config({"url": "redis://h/1", "connection_kwargs": {"ssl_ca_certs": "/x", "password": "a"}})
    third = backend_config({"url": "redis://h/2", "connection_kwargs": {"password": "a", "ssl_ca_certs": "/x"}})
    assert first.cache_key == second.cache_key != third.cache_key


def _pointers(schema: Any, settings: dict[str, Any]) -> list[str]:
    return [f"{e.pointer}: {e.message}" for e in schema.errors(settings)]


def test_the_schemas_accept_pysoa_settings() -> None:
    pysoa = {
        "backend_type": "redis.standard",
        "backend_layer_kwargs": {"hosts": [("localhost", 6379)], "connection_kwargs": {"socket_timeout": 3}},
        "log_messages_larger_than_bytes": 0,
        "maximum_message_size_in_bytes": 200_000,
        "message_expiry_in_seconds": 30,
        "queue_capacity": 500,
        "queue_full_retries": 3,
        "receive_timeout_in_seconds": 2,
        "default_serializer_config": {"path": "pysoa.common.serializer:JSONSerializer"},
    }
    assert _pointers(CLIENT_SETTINGS_SCHEMA, {**pysoa, "protocol_version": 2}) == []
    assert _pointers(SERVER_SETTINGS_SCHEMA, {**pysoa, "chunk_messages_larger_than_bytes": 102_400}) == []


@pytest.mark.parametrize(
    ("settings", "pointer"),
    [
        ({"queue_capacity": 0}, "queue_capacity"),
        ({"protocol_version": 4}, "protocol_version"),
        ({"receive_timeout_in_seconds": "5"}, "receive_timeout_in_seconds"),
        ({"chunk_messages_larger_than_bytes": 200_000}, "None: Extra keys present: chunk_messages_larger_than_bytes"),
        ({"url": "redis://a", "urls": ["redis://b"]}, "None"),
        ({"default_serializer_config": "yaml"}, "default_serializer_config"),
        ({"backend_layer_kwargs": {"hosts": [("h", "port")]}}, "backend_layer_kwargs.hosts.0"),
        ({"sentinel": {"services": ["m"]}}, "sentinel.hosts"),
    ],
)
def test_the_client_schema_names_what_is_wrong(settings: dict[str, Any], pointer: str) -> None:
    errors = _pointers(CLIENT_SETTINGS_SCHEMA, settings)
    assert errors
    assert errors[0].startswith(pointer)


def test_chunking_rules_on_the_server() -> None:
    assert "at least 102400" in _pointers(SERVER_SETTINGS_SCHEMA, {"chunk_messages_larger_than_bytes": 1000})[0]
    too_small = {"chunk_messages_larger_than_bytes": 102_400, "maximum_message_size_in_bytes": 102_400}
    assert "must exceed" in _pointers(SERVER_SETTINGS_SCHEMA, too_small)[0]
    options = transport_options({"chunk_messages_larger_than_bytes": 200_000}, server=True)
    assert (options.chunk_messages_larger_than_bytes, options.maximum_message_size_in_bytes) == (200_000, 1_000_000)


def test_defaults_differ_between_client_and_server_like_pysoa() -> None:
    client, server = transport_options({}, server=False), transport_options({}, server=True)
    assert (client.maximum_message_size_in_bytes, server.maximum_message_size_in_bytes) == (102_400, 256_000)
    assert (client.queue_capacity, client.queue_full_retries, client.message_expiry_in_seconds) == (10_000, 10, 60)
    assert (client.receive_timeout_in_seconds, client.protocol_version) == (5, 3)
    assert server.chunk_messages_larger_than_bytes is None


@pytest.mark.parametrize(
    "reference",
    ["json", {"name": "json"}, {"path": "pysoa.common.serializer:JSONSerializer"}, {"path": "soa_json:JSONSerializer"}],
)
def test_serializers_are_found_by_name_or_path(reference: Any) -> None:
    transport = RedisClientTransport("svc", default_serializer_config=reference)
    assert type(transport._core.default_serializer) is JSONSerializer


def test_transports_validate_their_settings() -> None:
    with pytest.raises(ConfigurationError, match="queue_capacity"):
        RedisClientTransport("svc", queue_capacity=-1)
    with pytest.raises(ConfigurationError, match="chunk_messages_larger_than_bytes"):
        RedisClientTransport("svc", chunk_messages_larger_than_bytes=200_000)


def test_bad_redis_kwargs_fail_when_the_transport_is_built() -> None:
    with pytest.raises(ConfigurationError, match="frobnicate"):
        RedisServerTransport("svc", url="redis://127.0.0.1:1", connection_kwargs={"frobnicate": 1})


def test_transports_with_equal_settings_share_connections() -> None:
    first = RedisClientTransport("a", url="redis://127.0.0.1:1/0")
    second = RedisServerTransport("b", url="redis://127.0.0.1:1/0")
    other = RedisClientTransport("a", url="redis://127.0.0.1:1/1")
    assert first._core.backend is second._core.backend
    assert first._core.backend is not other._core.backend


def test_the_readme_documents_every_setting() -> None:
    readme = (Path(soa_redis.__file__).resolve().parents[2] / "README.md").read_text()
    names = set()
    for schema in (CLIENT_SETTINGS_SCHEMA, SERVER_SETTINGS_SCHEMA):
        for key, field in schema.contents.items():
            names.add(str(key))
            if isinstance(field, fields.Dictionary):
                names.update(f"{key}.{inner}" for inner in field.contents)
    missing = sorted(name for name in names if f"| `{name}` |" not in readme)
    assert missing == []


def test_cluster_seeds_share_one_set_of_connection_options() -> None:
    config = backend_config(
        {"cluster": {"hosts": ["rediss://svc:pw@n1:7000", "rediss://svc:pw@n2"], "failover_retries": 2}}
    )
    assert config.cluster
    assert not config.sentinel
    assert config.hosts == ({"host": "n1", "port": 7000}, {"host": "n2", "port": 6379})
    assert config.connection_kwargs == {**DEFAULTS, "ssl": True, "username": "svc", "password": "pw"}
    assert config.cluster_failover_retries == 2
    plain = backend_config({"cluster": {"hosts": ["n1:7000"]}, "connection_kwargs": {"password": "pw"}})
    assert plain.connection_kwargs == {**DEFAULTS, "password": "pw"}
    assert plain.cache_key != backend_config({"url": "redis://n1:7000"}).cache_key


def test_pysoa_form_selects_the_cluster() -> None:
    config = backend_config(
        {
            "backend_type": "redis.cluster",
            "backend_layer_kwargs": {"hosts": ["n1", ("n2", 7001)], "redis_port": 7000, "redis_db": 0},
        }
    )
    assert config.cluster
    assert config.hosts == ({"host": "n1", "port": 7000}, {"host": "n2", "port": 7001})
    assert CLIENT_SETTINGS_SCHEMA.errors({"backend_type": "redis.cluster", "backend_layer_kwargs": {}}) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cluster": {"hosts": ["n1:7000", "redis://:pw@n2:7000"]}}, "must agree on credentials"),
        ({"cluster": {"hosts": ["redis://n1:7000/2"]}}, "only database 0"),
        ({"cluster": {"hosts": ["unix:///run/redis.sock"]}}, "no unix:// nodes"),
        ({"cluster": {"hosts": ["n1"]}, "connection_kwargs": {"db": 1}}, "db must be 0"),
        ({"cluster": {"hosts": ["n1"]}, "url": "redis://n1"}, "one backend form"),
        ({"backend_type": "redis.cluster", "backend_layer_kwargs": {"sentinel_services": ["m"]}}, "only apply"),
    ],
)
def test_bad_cluster_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        backend_config(settings)
