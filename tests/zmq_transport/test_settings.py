"""Settings of the zmq transport: validated when a client or server is built, with the key path in errors."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import pytest
import zmq

from pysoa.client import Client
from pysoa.common.settings import SettingsError
from pysoa.errors import ConfigurationError
from pysoa.server.settings import ServerSettings
from soa_zmq._settings import client_options, server_options
from soa_zmq.transport import ZmqClientTransport, ZmqServerTransport

PUBLIC, SECRET = (key.decode() for key in zmq.curve_keypair())
OTHER_PUBLIC, _OTHER_SECRET = (key.decode() for key in zmq.curve_keypair())


def _client(**kwargs: Any) -> Client:
    return Client({"svc": {"transport": {"name": "zmq", "kwargs": kwargs}}})


def _server(**kwargs: Any) -> ServerSettings:
    return ServerSettings({"transport": {"name": "zmq", "kwargs": kwargs}})


def test_the_plugin_is_found_by_name() -> None:
    client = _client(endpoint="ipc:///tmp/x")
    assert isinstance(client._get_handler("svc").transport, ZmqClientTransport)
    assert _server(endpoint="ipc:///tmp/x")["transport"]["object"] is ZmqServerTransport


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "endpoint"),
        ({"endpoint": "http://host:80"}, "must start with tcp:// or ipc://"),
        ({"endpoint": "tcp://localhost"}, "must be tcp://host:port"),
        ({"endpoint": "tcp://localhost:99999"}, "port must be a number"),
        ({"endpoint": "tcp://*:5555"}, "a client must name the host"),
        ({"endpoint": "ipc://" + "/x" * 60}, "at most 107 bytes"),
        ({"endpoint": "ipc:///tmp/x", "maximum_message_size_in_bytes": 0}, "maximum_message_size_in_bytes"),
        ({"endpoint": "ipc:///tmp/x", "heartbeat_liveness": 1}, "heartbeat_liveness"),
        ({"endpoint": "ipc:///tmp/x", "default_serializer_config": "nope"}, "default_serializer_config"),
        ({"endpoint": "ipc:///tmp/x", "curve_public_key": PUBLIC}, "CURVE needs all of"),
        (
            {
                "endpoint": "ipc:///tmp/x",
                "curve_public_key": OTHER_PUBLIC,
                "curve_secret_key": SECRET,
                "curve_server_public_key": PUBLIC,
            },
            "is not the public key of curve_secret_key",
        ),
        (
            {
                "endpoint": "ipc:///tmp/x",
                "curve_public_key": "~" * 40,
                "curve_secret_key": SECRET,
                "curve_server_public_key": PUBLIC,
            },
            "not valid Z85",
        ),
        ({"endpoint": "ipc:///tmp/x", "role": "worker"}, "role"),  # a server-only setting
    ],
)
def test_bad_client_settings_are_refused_naming_the_setting(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        _client(**kwargs)
    assert "transport.kwargs" in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"endpoint": "ipc:///tmp/x", "role": "router"}, "role"),
        ({"endpoint": "ipc:///tmp/x", "backend_endpoint": "ipc:///tmp/x"}, "must differ from endpoint"),
        ({"endpoint": "ipc:///tmp/x", "curve_client_public_keys": [PUBLIC]}, "needs curve_public_key"),
        (
            {
                "endpoint": "ipc:///tmp/x",
                "curve_public_key": PUBLIC,
                "curve_secret_key": SECRET,
                "curve_client_public_keys": ["short"],
            },
            "curve_client_public_keys",
        ),
    ],
)
def test_bad_server_settings_are_refused_naming_the_setting(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        _server(**kwargs)
    assert "transport.kwargs" in str(info.value)
    assert message in str(info.value)


def test_a_server_may_bind_every_interface() -> None:
    assert server_options({"endpoint": "tcp://*:5555"}).endpoint == "tcp://*:5555"


def test_an_ipc_service_keeps_its_worker_socket_and_lock_beside_its_own() -> None:
    options = server_options({"endpoint": "ipc:///run/svc/api"})
    assert (options.backend_endpoint, options.lock_file) == ("ipc:///run/svc/api.workers", "/run/svc/api.lock")


def test_a_tcp_service_keeps_them_in_the_temporary_directory_named_after_the_endpoint() -> None:
    first = server_options({"endpoint": "tcp://*:5555"})
    second = server_options({"endpoint": "tcp://*:5556"})
    assert first.lock_file.startswith(os.path.join(tempfile.gettempdir(), "soa-zmq-"))
    assert first.backend_endpoint.startswith("ipc://")
    assert first.backend_endpoint != second.backend_endpoint
    explicit = server_options({"endpoint": "tcp://*:5555", "backend_endpoint": "tcp://*:5600"})
    assert explicit.backend_endpoint == "tcp://*:5600"


def test_curve_keys_are_normalised_for_libzmq() -> None:
    client = client_options(
        {
            "endpoint": "ipc:///tmp/x",
            "curve_public_key": PUBLIC,
            "curve_secret_key": SECRET,
            "curve_server_public_key": OTHER_PUBLIC,
        }
    )
    assert client.curve is not None
    assert (client.curve.public_key, client.curve.server_public_key) == (PUBLIC.encode(), OTHER_PUBLIC.encode())
    server = server_options({"endpoint": "ipc:///tmp/x", "curve_public_key": PUBLIC, "curve_secret_key": SECRET})
    assert server.curve is not None
    assert server.curve.allowed_client_keys is None


def test_the_options_guard_against_direct_construction_without_an_endpoint() -> None:
    with pytest.raises(ConfigurationError, match="endpoint"):
        ZmqClientTransport("svc")
