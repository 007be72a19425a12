"""PySOA 1.4 module paths that soa-core serves from its own implementation or the soa-redis plugin.

Which paths and names exist is checked against the real PySOA by tests/interop/test_module_parity.py; these tests
check that what they serve behaves as PySOA's did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path

import pytest

from pysoa.common.transport.redis_gateway.constants import (
    DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT,
    DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER,
    MINIMUM_CHUNKED_MESSAGE_BYTES,
    REDIS_BACKEND_TYPE_SENTINEL,
    REDIS_BACKEND_TYPE_STANDARD,
    REDIS_BACKEND_TYPES,
    ProtocolFeature,
    ProtocolVersion,
)
from pysoa.utils import dict_to_hashable

_REPO = Path(__file__).resolve().parents[2]

_SHIMS = [
    "pysoa.common.transport.redis_gateway.backend.base",
    "pysoa.common.transport.redis_gateway.backend.sentinel",
    "pysoa.common.transport.redis_gateway.backend.standard",
    "pysoa.common.transport.redis_gateway.client",
    "pysoa.common.transport.redis_gateway.constants",
    "pysoa.common.transport.redis_gateway.core",
    "pysoa.common.transport.redis_gateway.server",
    "pysoa.common.transport.redis_gateway.settings",
    "pysoa.common.transport.redis_gateway.utils",
    "pysoa.server.autoreload",
    "pysoa.server.django.database",
    "pysoa.server.internal.event_loop",
    "pysoa.server.internal.types",
    "pysoa.utils",
]


def _run_python(code: str, *args: str, cwd: Path | None = None, timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_pysoa_paths_imports_neither_redis_nor_django() -> None:
    # Settings modules import these (REDIS_BACKEND_TYPE_STANDARD); the plugin and Redis load only when used.
    loaded = _run_python(
        "import importlib, json, sys\n"
        f"for name in {_SHIMS!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'soa_redis', 'django'))))"
    )
    assert json.loads(loaded) == []


def test_redis_names_load_from_soa_redis_or_say_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from pysoa.common.transport.redis_gateway import settings
    from soa_redis._config import SERVER_SETTINGS_SCHEMA

    assert settings.RedisServerTransportSchema is SERVER_SETTINGS_SCHEMA
    monkeypatch.setitem(sys.modules, "soa_redis._config", None)  # as if soa-redis were not installed
    with pytest.raises(ImportError, match=r"RedisServerTransportSchema is provided by the soa-redis plugin: pip"):
        _ = settings.RedisServerTransportSchema


def test_the_redis_transport_schema_class_validates_as_the_transport_does() -> None:
    from pysoa.common.transport.redis_gateway.settings import RedisTransportSchema

    schema = RedisTransportSchema()
    assert schema.errors({"backend_type": REDIS_BACKEND_TYPE_STANDARD, "queue_capacity": 10}) == []
    assert [e.pointer for e in schema.errors({"backend_type": "redis.bogus"})] == ["backend_type"]
    assert schema.errors({"backend_type": "redis.cluster"}) == []  # soa-core's own backend type
    # The plugin's cross-field rules come along: two backend forms at once are refused.
    assert schema.errors({"url": "redis://127.0.0.1:1", "urls": ["redis://127.0.0.1:2"]})


def test_constants_are_the_ones_soa_redis_uses() -> None:
    from soa_redis import _config, _framing

    assert (REDIS_BACKEND_TYPE_STANDARD, REDIS_BACKEND_TYPE_SENTINEL) == (_config.STANDARD, _config.SENTINEL)
    assert REDIS_BACKEND_TYPES == (REDIS_BACKEND_TYPE_STANDARD, REDIS_BACKEND_TYPE_SENTINEL)
    assert _config.CLIENT_DEFAULTS["maximum_message_size_in_bytes"] == DEFAULT_MAXIMUM_MESSAGE_BYTES_CLIENT
    assert _config.SERVER_DEFAULTS["maximum_message_size_in_bytes"] == DEFAULT_MAXIMUM_MESSAGE_BYTES_SERVER
    assert _framing.MINIMUM_CHUNK_THRESHOLD == MINIMUM_CHUNKED_MESSAGE_BYTES
    assert tuple(ProtocolVersion) == _framing.SUPPORTED_PROTOCOL_VERSIONS
    assert ProtocolVersion(_framing.DEFAULT_PROTOCOL_VERSION) is ProtocolVersion.VERSION_3


def test_protocol_versions_read_and_write_the_version_marker() -> None:
    from soa_redis._framing import build_frames

    (frame,) = build_frames(b"payload", 3, "application/msgpack")
    assert frame.startswith(ProtocolVersion.VERSION_3.prefix)
    assert ProtocolVersion.extract_version(b"pysoa-redis/3//content-type:application/json;{}") == (
        ProtocolVersion.VERSION_3,
        b"content-type:application/json;{}",
    )
    assert ProtocolVersion.extract_version(b"content-type:application/json;{}") == (
        ProtocolVersion.VERSION_2,
        b"content-type:application/json;{}",
    )
    assert ProtocolVersion.extract_version(b"\x83\xa4meta") == (ProtocolVersion.VERSION_1, b"\x83\xa4meta")
    with pytest.raises(ValueError, match="9"):
        ProtocolVersion.extract_version(b"pysoa-redis/9//x")
    assert ProtocolFeature.CHUNKED_RESPONSES.supported_in(ProtocolVersion.VERSION_3)
    assert not ProtocolFeature.CHUNKED_RESPONSES.supported_in(ProtocolVersion.VERSION_2)
    assert ProtocolFeature.CONTENT_TYPE_HEADER.supported_in(ProtocolVersion.VERSION_2)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("pysoa.common.transport.redis_gateway.backend.standard", "StandardRedisClient"),
        ("pysoa.common.transport.redis_gateway.backend.sentinel", "SentinelRedisClient"),
        ("pysoa.common.transport.redis_gateway.backend.base", "BaseRedisClient"),
        ("pysoa.common.transport.redis_gateway.core", "RedisTransportCore"),
    ],
)
def test_replaced_redis_internals_say_what_replaces_them(module: str, name: str) -> None:
    with pytest.raises(ImportError, match=rf"cannot import name '{name}'.*RedisClientTransport / RedisServerTransport"):
        exec(f"from {module} import {name}")


def test_cannot_get_connection_error_catches_soa_redis_connection_failures() -> None:
    from pysoa.common.transport.redis_gateway.backend.base import CannotGetConnectionError
    from soa_redis import RedisReceiveConnectionError, RedisSendConnectionError

    assert issubclass(RedisSendConnectionError, CannotGetConnectionError)
    assert issubclass(RedisReceiveConnectionError, CannotGetConnectionError)


def test_make_redis_queue_name_is_the_request_queue_name() -> None:
    from pysoa.common.transport.redis_gateway.utils import make_redis_queue_name
    from soa_redis._envelope import queue_key, request_queue_key

    assert make_redis_queue_name("orders") == "service.orders"
    assert queue_key(make_redis_queue_name("orders")) == request_queue_key("orders")


def test_dict_to_hashable_is_equal_exactly_for_equal_dicts() -> None:
    first = {"a": [1, 2], "b": {"c": [{"d": 1}]}, "e": None}
    same = {"e": None, "b": {"c": [{"d": 1}]}, "a": [1, 2]}
    assert dict_to_hashable(first) == dict_to_hashable(same)
    assert hash(dict_to_hashable(first)) == hash(dict_to_hashable(same))
    assert dict_to_hashable(first) != dict_to_hashable({**first, "a": [2, 1]})
    assert dict_to_hashable(first) != dict_to_hashable({**first, "b": {"c": [{"d": 2}]}})
    assert dict_to_hashable({"a": [1]}) == dict_to_hashable({"a": (1,)})  # as in PySOA
    assert len({dict_to_hashable(first), dict_to_hashable(same)}) == 1


def test_get_python_interpreter_arguments_is_the_command_up_to_the_program(tmp_path: Path) -> None:
    (tmp_path / "show_arguments.py").write_text(
        "import json\nfrom pysoa.utils import get_python_interpreter_arguments\n"
        "print(json.dumps(get_python_interpreter_arguments()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "show_arguments", "--flag", "value"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=True,
    )
    assert json.loads(done.stdout) == [sys.executable, "-W", "ignore", "-m", "show_arguments"]


def test_switch_sets_accept_switch_objects() -> None:
    from pysoa.server.internal.types import RequestSwitchSet, SupportsIntValue, SwitchSet

    class Switch(Enum):
        NEW_CHECKOUT = 5

    switches = SwitchSet([Switch.NEW_CHECKOUT, 7])
    assert isinstance(Switch.NEW_CHECKOUT, SupportsIntValue)
    assert Switch.NEW_CHECKOUT in switches  # type: ignore[comparison-overlap]  # switch objects are accepted
    assert 7 in switches
    assert 6 not in switches
    assert isinstance(RequestSwitchSet([1]), SwitchSet)


def test_coroutine_middleware_config_is_the_setting_schema() -> None:
    from pysoa.server.internal.event_loop import coroutine_middleware_config

    assert coroutine_middleware_config.errors([{"path": "pysoa.server.coroutine:DefaultCoroutineMiddleware"}]) == []
    assert coroutine_middleware_config.errors([{"kwargs": {}}])


def test_switched_action_re_parses_introspection_keys() -> None:
    from pysoa.server.action.introspection import SWITCHED_ACTION_RE

    switched = SWITCHED_ACTION_RE.match("get_user[switch:5]")
    assert switched is not None
    assert (switched["action"], switched["switch"], switched["default"]) == ("get_user", "5", None)
    default = SWITCHED_ACTION_RE.match("get-user[DEFAULT]")
    assert default is not None
    assert (default["action"], default["default"]) == ("get-user", "DEFAULT")
    assert SWITCHED_ACTION_RE.match("get_user") is None


def test_local_transport_schema_classes_check_the_transport_settings() -> None:
    from pysoa.common.transport.local import LocalClientTransportSchema, LocalServerTransportSchema

    assert LocalClientTransportSchema().errors({"server_class": "tests.core.services:ExampleServer"}) == []
    assert [e.pointer for e in LocalClientTransportSchema().errors({})] == ["server_class"]
    assert LocalServerTransportSchema().errors({}) == []


_RELOADING_PROGRAM = """
import os
import sys
import time

from pysoa.server.autoreload import get_reloader


def serve(marker_directory):
    import watched

    with open(os.path.join(marker_directory, f"{watched.VALUE}-{os.getpid()}"), "w"):
        pass
    time.sleep(120)


get_reloader("reloading_program", ["watched"]).main(serve, (sys.argv[1],))
"""


def _wait_for(condition: Callable[[], list[Path]], timeout: float = 30) -> list[Path]:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def test_get_reloader_restarts_the_program_when_a_watched_module_changes(tmp_path: Path) -> None:
    (tmp_path / "reloading_program.py").write_text(_RELOADING_PROGRAM)
    watched = tmp_path / "watched.py"
    watched.write_text("VALUE = 1\n")
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(_REPO)])}
    reloader = subprocess.Popen(
        [sys.executable, "-m", "reloading_program", str(markers)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL
    )
    try:
        (first,) = _wait_for(lambda: list(markers.glob("1-*")))
        watched.write_text("VALUE = 2\n")
        later = time.time() + 2  # whole-second modification times must still see a change
        os.utime(watched, (later, later))
        (second,) = _wait_for(lambda: list(markers.glob("2-*")))
        assert first.name.split("-")[1] != second.name.split("-")[1]  # a new process with the new code
        reloader.send_signal(signal.SIGTERM)
        reloader.wait(timeout=30)
        with pytest.raises(ProcessLookupError):  # the reloader took its child along
            os.kill(int(second.name.split("-")[1]), 0)
    finally:
        if reloader.poll() is None:
            reloader.kill()
            reloader.wait()


def test_actions_implement_the_action_interface() -> None:
    from pysoa.server.action.base import Action
    from pysoa.server.action.status import BaseStatusAction
    from pysoa.server.types import ActionInterface

    class Square(Action):
        def run(self, request: object) -> dict[str, int]:
            return {}

    assert isinstance(Square(None), ActionInterface)
    assert issubclass(BaseStatusAction, ActionInterface)
    with pytest.raises(TypeError, match="abstract"):
        ActionInterface()  # type: ignore[abstract]
