"""Self-tests of the PySOA 1.4.9 peers: the real old client talks to the real old server over a private Redis.

These prove the tooling (venv, peer programs, harness) before soa-core's interop tests rely on it.
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import currint
import pytest
import redis

from .env import interop_venv_dir
from .harness import PeerError, PeerServer, run_peer_client, start_peer_server
from .private_redis import PrivateRedis

pytestmark = [pytest.mark.interop, pytest.mark.redis]

SERVICE_A = "peer_a"
SERVICE_B = "peer_b"


@pytest.fixture(scope="module")
def peer_a(pysoa149_python: Path, pysoa149_redis: PrivateRedis) -> Iterator[PeerServer]:
    with start_peer_server(pysoa149_redis.port, service=SERVICE_A) as server:
        yield server


@pytest.fixture(scope="module")
def peer_b(pysoa149_python: Path, pysoa149_redis: PrivateRedis) -> Iterator[PeerServer]:
    with start_peer_server(pysoa149_redis.port, service=SERVICE_B) as server:
        yield server


def run(redis_server: PrivateRedis, *specs: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
    options.setdefault("service", SERVICE_A)
    return run_peer_client(redis_server.port, list(specs), **options)


def ok(result: dict[str, Any]) -> Any:
    assert result["ok"], result
    return result["result"]


def failed(result: dict[str, Any]) -> dict[str, Any]:
    assert not result["ok"], result
    error: dict[str, Any] = result["error"]
    return error


# --- the venv -------------------------------------------------------------------------------------------------------


def test_interop_venv_runs_the_real_pysoa_149_isolated_from_the_dev_venv(pysoa149_python: Path) -> None:
    probe = (
        "import json, msgpack, pysoa, pysoa.version, redis, redis.connection;"
        "print(json.dumps([pysoa.__file__, pysoa.version.__version__, redis.__version__, msgpack.Packer.__module__,"
        " redis.connection.DefaultParser.__name__]))"
    )
    done = subprocess.run(
        [os.fspath(pysoa149_python), "-E", "-s", "-c", probe], capture_output=True, text=True, check=True
    )
    pysoa_file, version, redis_version, packer_module, redis_parser = json.loads(done.stdout)
    assert Path(pysoa_file).is_relative_to(interop_venv_dir())
    assert (version, redis_version) == ("1.4.9", "3.5.3")
    # The C extension, not the pure-Python fallback: benchmarks against PySOA must give it its real speed.
    assert (packer_module, redis_parser) == ("msgpack._cmsgpack", "HiredisParser")
    assert not Path(sys.prefix).resolve().is_relative_to(interop_venv_dir())


@pytest.mark.slow
def test_parallel_builders_share_one_build(tmp_path: Path) -> None:
    """Two processes asking for a missing venv at once: one builds under the lock, both get the same python."""
    env = dict(os.environ, SOA_INTEROP_VENV=os.fspath(tmp_path / "venv"))
    code = "from tests.pysoa149.env import ensure_pysoa149_python as e; print(e())"
    repo = Path(__file__).resolve().parents[2]
    builders = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [builder.communicate(timeout=600) for builder in builders]
    assert [builder.returncode for builder in builders] == [0, 0], outputs
    assert {out.decode().strip() for out, _ in outputs} == {os.fspath(tmp_path / "venv" / "bin" / "python")}
    build_logs = [err.decode() for _, err in outputs]
    assert sum("building the PySOA 1.4.9 venv" in log for log in build_logs) == 1, build_logs
    marker = tmp_path / "venv" / ".soa-interop-ready.json"
    built_at = marker.stat().st_mtime_ns
    again = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, check=True)
    assert b"building" not in again.stderr
    assert marker.stat().st_mtime_ns == built_at


# --- the server process ---------------------------------------------------------------------------------------------


def test_peer_server_prints_ready_and_exits_cleanly_on_sigterm(pysoa149_redis: PrivateRedis) -> None:
    server = start_peer_server(pysoa149_redis.port, service="peer_stop")
    assert server.is_running()
    assert ok(run(pysoa149_redis, {"call": "call_action", "action": "echo", "body": {"n": 1}}, service="peer_stop")[0])
    assert server.stop() == 0
    assert "Received interrupt" in server.logs()


def test_peer_server_that_cannot_reach_redis_fails_to_start_with_its_error(pysoa149_python: Path) -> None:
    unused_port = 1  # nothing listens on port 1 on loopback
    with pytest.raises(PeerError, match="before READY") as caught:
        start_peer_server(unused_port, service="peer_nowhere")
    assert "Connection refused" in str(caught.value) or "ConnectionError" in str(caught.value)


# --- call kinds -----------------------------------------------------------------------------------------------------


def test_call_action_returns_the_body_and_action_errors_are_structured(
    peer_a: PeerServer, pysoa149_redis: PrivateRedis
) -> None:
    square, failure, custom = run(
        pysoa149_redis,
        {"call": "call_action", "action": "square", "body": {"number": 12}},
        {"call": "call_action", "action": "fail"},
        {"call": "call_action", "action": "fail", "body": {"code": "NOPE", "message": "m", "field": "f.0"}},
    )
    assert ok(square) == {"action": "square", "errors": [], "body": {"square": 144}}
    error = failed(failure)
    assert error["type"] == "CallActionError"
    assert error["transient"] is False
    [action] = error["actions"]
    assert action["action"] == "fail"
    assert [(e["code"], e["field"], e["is_caller_error"]) for e in action["errors"]] == [("INVALID", "reason", True)]
    assert failed(custom)["actions"][0]["errors"][0]["code"] == "NOPE"
    assert failed(custom)["actions"][0]["errors"][0]["field"] == "f.0"


def test_validation_errors_of_the_peer_carry_the_field(peer_a: PeerServer, pysoa149_redis: PrivateRedis) -> None:
    [result] = run(pysoa149_redis, {"call": "call_action", "action": "square", "body": {"number": "x"}})
    [error] = failed(result)["actions"][0]["errors"]
    assert (error["code"], error["field"]) == ("INVALID", "number")


def test_call_actions_stops_at_the_first_error_unless_continue_on_error(
    peer_a: PeerServer, pysoa149_redis: PrivateRedis
) -> None:
    actions = [
        {"action": "square", "body": {"number": 2}},
        {"action": "fail"},
        {"action": "square", "body": {"number": 3}},
    ]
    stopped, continued, raised = run(
        pysoa149_redis,
        {"call": "call_actions", "actions": actions, "raise_action_errors": False},
        {"call": "call_actions", "actions": actions, "raise_action_errors": False, "continue_on_error": True},
        {"call": "call_actions", "actions": actions, "continue_on_error": True},
    )
    assert [a["action"] for a in ok(stopped)["actions"]] == ["square", "fail"]
    job = ok(continued)
    assert job["errors"] == []
    assert [(a["action"], a["body"]) for a in job["actions"]] == [
        ("square", {"square": 4}),
        ("fail", {}),
        ("square", {"square": 9}),
    ]
    assert [a["action"] for a in failed(raised)["actions"]] == ["fail"]


def test_call_actions_parallel_keeps_request_order(peer_a: PeerServer, pysoa149_redis: PrivateRedis) -> None:
    actions = [{"action": "square", "body": {"number": n}} for n in range(8)]
    [all_ok, with_error] = run(
        pysoa149_redis,
        {"call": "call_actions_parallel", "actions": actions},
        {"call": "call_actions_parallel", "actions": [*actions[:2], {"action": "fail"}], "raise_action_errors": False},
    )
    assert [a["body"]["square"] for a in ok(all_ok)] == [n * n for n in range(8)]
    assert [a["action"] for a in ok(with_error)] == ["square", "square", "fail"]
    assert ok(with_error)[2]["errors"][0]["code"] == "INVALID"


def test_call_jobs_parallel_spans_services(
    peer_a: PeerServer, peer_b: PeerServer, pysoa149_redis: PrivateRedis
) -> None:
    jobs = [
        {"service_name": SERVICE_A, "actions": [{"action": "echo", "body": {"to": "a"}}]},
        {"service_name": SERVICE_B, "actions": [{"action": "fail"}, {"action": "echo", "body": {"to": "b"}}]},
        {"service_name": SERVICE_B, "actions": [{"action": "context"}]},
    ]
    [result] = run(
        pysoa149_redis,
        {
            "call": "call_jobs_parallel",
            "jobs": jobs,
            "continue_on_error": True,
            "raise_action_errors": False,
            "correlation_id": "jobs-1",
        },
    )
    first, second, third = ok(result)
    assert first["actions"][0]["body"] == {"to": "a"}
    assert [a["action"] for a in second["actions"]] == ["fail", "echo"]
    assert second["actions"][1]["body"] == {"to": "b"}
    assert third["actions"][0]["body"]["context"]["correlation_id"] == "jobs-1"
    assert {job["context"]["correlation_id"] for job in (first, second, third)} == {"jobs-1"}


def test_context_switches_and_control_reach_the_action(peer_a: PeerServer, pysoa149_redis: PrivateRedis) -> None:
    [result] = run(
        pysoa149_redis,
        {
            "call": "call_action",
            "action": "context",
            "switches": [5, 2, 5],
            "correlation_id": "corr-1",
            "context": {"locale": "fr_FR", "auth_token": "t0k"},
            "control_extra": {"trace": True},
            "timeout": 10,
        },
    )
    body = ok(result)["body"]
    assert body["switches"] == [2, 5]
    assert body["context"]["correlation_id"] == "corr-1"
    assert (body["context"]["locale"], body["context"]["auth_token"]) == ("fr_FR", "t0k")
    assert sorted(body["context"]["switches"]) == [2, 5]
    assert body["control"]["trace"] is True
    assert body["control"]["continue_on_error"] is False
    assert body["control"]["timeout"] == 10


# --- typed values, serializers, protocol versions, chunking ---------------------------------------------------------

TYPED_INPUT = {
    "naive": datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
    "utc": datetime.datetime(2021, 6, 7, 8, 9, 10, 123456, tzinfo=datetime.UTC),
    "date": datetime.date(2020, 1, 2),
    "time": datetime.time(23, 59, 59, 999999),
    "decimal": decimal.Decimal("-0.5"),
    "amount": currint.Amount.from_code_and_minor("JPY", -5),
    "bytes": b"\x00\x01",
    "text": "héllo",
}
TYPED_OUTPUT = {  # what the peer's `types` action returns besides the echo
    "datetime": datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
    "datetime_utc": datetime.datetime(2021, 6, 7, 8, 9, 10, 123456, tzinfo=datetime.UTC),
    "date": datetime.date(2020, 1, 2),
    "time": datetime.time(3, 4, 5, 6),
    "decimal": decimal.Decimal("12.3400"),
    "amount": currint.Amount.from_code_and_minor("USD", 1234),
    "bytes": b"\x00\x01\xff",
}


@pytest.mark.parametrize("protocol_version", [2, 3])
def test_typed_values_round_trip_through_both_peers(
    peer_a: PeerServer, pysoa149_redis: PrivateRedis, protocol_version: int
) -> None:
    [result] = run(
        pysoa149_redis,
        {"call": "call_action", "action": "types", "body": TYPED_INPUT},
        protocol_version=protocol_version,
    )
    body = ok(result)["body"]
    assert body.pop("echo") == TYPED_INPUT
    assert body.pop("echo_types") == {
        "naive": "datetime",
        "utc": "datetime-utc",
        "date": "date",
        "time": "time",
        "decimal": "decimal",
        "amount": "amount",
        "bytes": "bytes",
        "text": "str",
    }
    assert body == TYPED_OUTPUT
    assert str(body["decimal"]) == "12.3400"
    assert body["datetime_utc"].utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize("protocol_version", [2, 3])
def test_json_clients_get_json_replies_and_typed_values_cannot_travel(
    peer_a: PeerServer, pysoa149_redis: PrivateRedis, protocol_version: int
) -> None:
    plain, typed = run(
        pysoa149_redis,
        {"call": "call_action", "action": "echo", "body": {"list": [1, "two", None, 2.5], "map": {"k": True}}},
        {"call": "call_action", "action": "types"},
        serializer="json",
        protocol_version=protocol_version,
    )
    assert ok(plain)["body"] == {"list": [1, "two", None, 2.5], "map": {"k": True}}
    assert [e["code"] for e in failed(typed)["errors"]] == ["RESPONSE_NOT_SERIALIZABLE"]


def test_per_call_client_choice_overrides_the_defaults(peer_a: PeerServer, pysoa149_redis: PrivateRedis) -> None:
    results = run(
        pysoa149_redis,
        *[
            {"call": "call_action", "action": "echo", "body": {"i": i}, "protocol_version": pv, "serializer": ser}
            for i, (pv, ser) in enumerate([(1, "msgpack"), (2, "json"), (3, "json"), (3, "msgpack")])
        ],
    )
    assert [ok(result)["body"] for result in results] == [{"i": i} for i in range(4)]


@pytest.fixture(scope="module")
def chunking_peer(pysoa149_python: Path, pysoa149_redis: PrivateRedis) -> Iterator[PeerServer]:
    with start_peer_server(
        pysoa149_redis.port,
        service="peer_chunk",
        chunk_messages_larger_than_bytes=102_400,
        maximum_message_size_in_bytes=600_000,
    ) as server:
        yield server


def test_chunked_responses_reach_v3_clients_and_v2_clients_get_response_too_large(
    chunking_peer: PeerServer, pysoa149_redis: PrivateRedis
) -> None:
    v3, v3_json, v2, over_limit = run(
        pysoa149_redis,
        {"call": "call_action", "action": "big", "body": {"size": 300_000}},
        {"call": "call_action", "action": "big", "body": {"size": 300_000}, "serializer": "json"},
        {"call": "call_action", "action": "big", "body": {"size": 300_000}, "protocol_version": 2},
        {"call": "call_action", "action": "big", "body": {"size": 700_000}},
        service="peer_chunk",
    )
    assert ok(v3)["body"]["data"] == "x" * 300_000
    assert ok(v3_json)["body"]["data"] == "x" * 300_000
    assert [e["code"] for e in failed(v2)["errors"]] == ["RESPONSE_TOO_LARGE"]
    assert [e["code"] for e in failed(over_limit)["errors"]] == ["RESPONSE_TOO_LARGE"]


def test_the_chunking_peer_really_sends_chunk_frames(chunking_peer: PeerServer, pysoa149_redis: PrivateRedis) -> None:
    """Read the raw reply frames, so interop tests can trust that this peer exercises chunk reassembly."""
    reply_to = "service.peer_chunk.0123456789abcdef0123456789abcdef!0000000000aa"
    request = {
        "request_id": 7,
        "meta": {"client_version": [1, 4, 9], "reply_to": reply_to, "__expiry__": time.time() + 60},
        "body": {
            "control": {"continue_on_error": False},
            "context": {"correlation_id": "raw", "switches": []},
            "actions": [{"action": "big", "body": {"size": 250_000}}],
        },
    }
    connection = redis.Redis(host=pysoa149_redis.host, port=pysoa149_redis.port, socket_timeout=15)
    try:
        prefix = b"pysoa-redis/3//content-type:application/json;"
        connection.rpush("pysoa:service.peer_chunk", prefix + json.dumps(request).encode())
        frames: list[bytes] = []
        while not frames or len(frames) < int(frames[0].split(b"chunk-count:")[1].split(b";")[0]):
            popped = connection.blpop(["pysoa:" + reply_to], timeout=10)
            assert popped is not None, f"got {len(frames)} frames, then nothing"
            frame = popped[1]
            assert isinstance(frame, bytes)
            frames.append(frame)
    finally:
        connection.close()
    assert len(frames) == 3  # ceil(~250 KB / 102,400)
    payload = b""
    for chunk_id, frame in enumerate(frames, start=1):
        header = f"pysoa-redis/3//content-type:application/json;chunk-count:3;chunk-id:{chunk_id};".encode()
        assert frame.startswith(header)
        payload += frame[len(header) :]
    response = json.loads(payload)
    assert response["request_id"] == 7
    assert response["body"]["actions"][0]["body"]["data"] == "x" * 250_000


# --- failures the client reports as data ----------------------------------------------------------------------------


def test_transport_errors_are_reported_as_results(pysoa149_redis: PrivateRedis, pysoa149_python: Path) -> None:
    [result] = run(pysoa149_redis, {"call": "call_action", "action": "echo", "timeout": 1}, service="nobody_home")
    error = failed(result)
    assert (error["type"], error["transient"]) == ("MessageReceiveTimeout", True)
    assert error["module"] == "pysoa.common.transport.errors"


def test_bad_specs_are_reported_and_do_not_stop_the_batch(peer_a: PeerServer, pysoa149_redis: PrivateRedis) -> None:
    unknown_call, missing_action, extra_key, good = run(
        pysoa149_redis,
        {"call": "call_everything"},
        {"call": "call_action"},
        {"call": "call_action", "action": "echo", "bodyy": {}},
        {"call": "call_action", "action": "echo", "body": {"still": "works"}},
    )
    assert failed(unknown_call)["type"] == "BadSpec"
    assert "needs 'action'" in failed(missing_action)["message"]
    assert "bodyy" in failed(extra_key)["message"]
    assert ok(good)["body"] == {"still": "works"}
