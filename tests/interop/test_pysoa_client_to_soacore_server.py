"""A real PySOA 1.4.9 client (in its own venv) calls soa-core servers over Redis.

Most tests send the same calls to a soa-core service and to a PySOA 1.4.9 service with the same actions
(tests/interop/services.py mirrors tests/pysoa149/peer_server.py) and require the PySOA client to see exactly the
same results from both, besides the explicit expected values: PySOA's own server is the reference.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgpack
import pytest

from pysoa.version import __version__ as SOA_CORE_VERSION
from tests.pysoa149.harness import run_peer_client
from tests.redis_transport.servers import RedisProcess

from .services import (
    CHUNK_THRESHOLD,
    EDGE_BODY,
    PYSOA_CHUNK_SERVICE,
    PYSOA_SERVICE,
    SOACORE_CHUNK_SERVICE,
    SOACORE_SERVICE,
    TYPED_INPUT,
    TYPED_INPUT_TYPES,
    TYPED_VALUES,
)

if TYPE_CHECKING:
    from .conftest import PySOAServers, SoaCoreServers

pytestmark = [pytest.mark.interop, pytest.mark.redis]


def error(
    code: str, message: str, field: str | None = None, *, is_caller_error: bool = True, **rest: Any
) -> dict[str, Any]:
    """An Error as the PySOA client reports it: all seven keys."""
    fields = {"traceback": None, "variables": None, "denied_permissions": None, **rest}
    return {"code": code, "message": message, "field": field, "is_caller_error": is_caller_error, **fields}


@pytest.fixture
def redis_port(interop_redis: RedisProcess, soacore_servers: SoaCoreServers, pysoa_servers: PySOAServers) -> int:
    return interop_redis.port


def run(port: int, *specs: dict[str, Any], service: str = SOACORE_SERVICE, **options: Any) -> list[dict[str, Any]]:
    """Run ``specs`` with the PySOA 1.4.9 client against ``service``."""
    return run_peer_client(port, list(specs), service=service, **options)


def run_on_both(
    port: int, *specs: dict[str, Any], soacore: str = SOACORE_SERVICE, pysoa: str = PYSOA_SERVICE, **options: Any
) -> list[dict[str, Any]]:
    """Run ``specs`` against the soa-core and the PySOA service; require identical results; return soa-core's.

    Specs without a correlation id get a fixed one, so the two runs are comparable.
    """
    specs = tuple({"correlation_id": "interop", **spec} for spec in specs)
    from_soacore = run(port, *specs, service=soacore, **options)
    from_pysoa = run(port, *specs, service=pysoa, **options)
    for spec, ours, theirs in zip(specs, from_soacore, from_pysoa, strict=True):
        assert _comparable(ours) == _comparable(theirs), f"soa-core and PySOA 1.4.9 differ for {spec}"
    return from_soacore


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "elapsed"}


def ok(result: dict[str, Any]) -> Any:
    assert result["ok"], result
    return result["result"]


def failed(result: dict[str, Any]) -> dict[str, Any]:
    assert not result["ok"], result
    caught: dict[str, Any] = result["error"]
    return caught


# --- call kinds -----------------------------------------------------------------------------------------------------


def test_call_action(redis_port: int) -> None:
    body = {"text": "héllo", "nested": {"list": [1, "two", None, 2.5, True]}, "big": 2**40, "neg": -7, "f": 0.1}
    square, echoed = run_on_both(
        redis_port,
        {"call": "call_action", "action": "square", "body": {"number": 12}},
        {"call": "call_action", "action": "echo", "body": body},
    )
    assert ok(square) == {"action": "square", "errors": [], "body": {"square": 144}}
    assert ok(echoed) == {"action": "echo", "errors": [], "body": body}


def test_call_action_error_is_a_call_action_error_with_the_actions_errors(redis_port: int) -> None:
    [result] = run_on_both(
        redis_port,
        {"call": "call_action", "action": "fail", "body": {"code": "NOPE", "message": "no", "field": "f.0"}},
    )
    caught = failed(result)
    assert (caught["type"], caught["module"], caught["transient"]) == ("CallActionError", "pysoa.client.errors", False)
    assert caught["actions"] == [{"action": "fail", "errors": [error("NOPE", "no", "f.0")], "body": {}}]


ACTIONS_WITH_ERROR: list[dict[str, Any]] = [
    {"action": "square", "body": {"number": 2}},
    {"action": "fail"},
    {"action": "square", "body": {"number": 3}},
]
FAIL_ERROR = error("INVALID", "fail was asked to fail", "reason")


def test_call_actions_stops_at_the_first_error_unless_continue_on_error(redis_port: int) -> None:
    common = {"call": "call_actions", "actions": ACTIONS_WITH_ERROR, "correlation_id": "job-1"}
    stopped, continued, raised_stopped, raised_continued = run_on_both(
        redis_port,
        {**common, "raise_action_errors": False, "continue_on_error": False},
        {**common, "raise_action_errors": False, "continue_on_error": True},
        {**common, "continue_on_error": False},
        {**common, "continue_on_error": True},
    )
    square_2 = {"action": "square", "errors": [], "body": {"square": 4}}
    square_3 = {"action": "square", "errors": [], "body": {"square": 9}}
    failure = {"action": "fail", "errors": [FAIL_ERROR], "body": {}}
    assert ok(stopped) == {"errors": [], "context": {"correlation_id": "job-1"}, "actions": [square_2, failure]}
    assert ok(continued) == {
        "errors": [],
        "context": {"correlation_id": "job-1"},
        "actions": [square_2, failure, square_3],
    }
    assert failed(raised_stopped)["actions"] == [failure]
    assert failed(raised_continued)["actions"] == [failure]


def test_call_actions_parallel_keeps_request_order(redis_port: int) -> None:
    squares = [{"action": "square", "body": {"number": n}} for n in range(12)]
    all_ok, with_error, raised = run_on_both(
        redis_port,
        {"call": "call_actions_parallel", "actions": squares},
        {"call": "call_actions_parallel", "actions": ACTIONS_WITH_ERROR, "raise_action_errors": False},
        {"call": "call_actions_parallel", "actions": ACTIONS_WITH_ERROR},
    )
    assert ok(all_ok) == [{"action": "square", "errors": [], "body": {"square": n * n}} for n in range(12)]
    assert ok(with_error) == [
        {"action": "square", "errors": [], "body": {"square": 4}},
        {"action": "fail", "errors": [FAIL_ERROR], "body": {}},
        {"action": "square", "errors": [], "body": {"square": 9}},
    ]
    assert failed(raised)["type"] == "CallActionError"
    assert failed(raised)["actions"] == [{"action": "fail", "errors": [FAIL_ERROR], "body": {}}]


def test_call_jobs_parallel_across_soacore_and_pysoa_services(redis_port: int) -> None:
    jobs = [
        {"service_name": SOACORE_SERVICE, "actions": [{"action": "echo", "body": {"to": "soa-core"}}]},
        {"service_name": PYSOA_SERVICE, "actions": [{"action": "echo", "body": {"to": "pysoa"}}]},
        {"service_name": SOACORE_SERVICE, "actions": [{"action": "fail"}, {"action": "square", "body": {"number": 5}}]},
        {"service_name": SOACORE_CHUNK_SERVICE, "actions": [{"action": "square", "body": {"number": 6}}]},
    ]
    common = {"call": "call_jobs_parallel", "jobs": jobs, "correlation_id": "jobs-1"}
    continued, stopped = run(
        redis_port,
        {**common, "continue_on_error": True, "raise_action_errors": False},
        {**common, "raise_action_errors": False},
    )
    context = {"correlation_id": "jobs-1"}
    echo_soacore = {"action": "echo", "errors": [], "body": {"to": "soa-core"}}
    echo_pysoa = {"action": "echo", "errors": [], "body": {"to": "pysoa"}}
    failure = {"action": "fail", "errors": [FAIL_ERROR], "body": {}}
    square_5 = {"action": "square", "errors": [], "body": {"square": 25}}
    square_6 = {"action": "square", "errors": [], "body": {"square": 36}}
    assert ok(continued) == [
        {"errors": [], "context": context, "actions": [echo_soacore]},
        {"errors": [], "context": context, "actions": [echo_pysoa]},
        {"errors": [], "context": context, "actions": [failure, square_5]},
        {"errors": [], "context": context, "actions": [square_6]},
    ]
    assert ok(stopped)[2] == {"errors": [], "context": context, "actions": [failure]}


# --- context and switches -------------------------------------------------------------------------------------------


def test_context_switches_and_control_reach_the_soacore_action(redis_port: int) -> None:
    call = {
        "call": "call_action",
        "action": "context",
        "switches": [5, 2, 5],
        "correlation_id": "corr-1",
        "context": {"locale": "fr_FR", "auth_token": "t0k", "extra": {"nested": [1, 2]}},
        "control_extra": {"trace": True},
        "timeout": 10,
    }
    [result] = run_on_both(redis_port, call)
    body = ok(result)["body"]
    assert body["switches"] == [2, 5]
    assert body["context"] == {
        "correlation_id": "corr-1",
        "switches": [2, 5],
        "locale": "fr_FR",
        "auth_token": "t0k",
        "extra": {"nested": [1, 2]},
    }
    assert body["control"] == {"continue_on_error": False, "suppress_response": False, "trace": True, "timeout": 10}


def test_the_job_response_context_carries_the_correlation_id(redis_port: int) -> None:
    given, generated = run(
        redis_port,
        {"call": "call_actions", "actions": [{"action": "context"}], "correlation_id": "corr-2", "switches": [7]},
        {"call": "call_actions", "actions": [{"action": "context"}]},
    )
    assert ok(given)["context"] == {"correlation_id": "corr-2"}
    assert ok(given)["actions"][0]["body"]["switches"] == [7]
    # Without one, PySOA's client makes a correlation id up; the server hands that same id back.
    job = ok(generated)
    assert job["context"] == {"correlation_id": job["actions"][0]["body"]["context"]["correlation_id"]}
    assert job["context"]["correlation_id"]


# --- typed values, content types, protocol versions -----------------------------------------------------------------


@pytest.mark.parametrize("protocol_version", [1, 2, 3])
def test_typed_values_travel_both_ways_exactly(redis_port: int, protocol_version: int) -> None:
    [result] = run_on_both(
        redis_port,
        {"call": "call_action", "action": "types", "body": TYPED_INPUT},
        protocol_version=protocol_version,
    )
    body = ok(result)["body"]
    echoed = body.pop("echo")
    assert echoed == TYPED_INPUT
    assert body.pop("echo_types") == TYPED_INPUT_TYPES
    assert body == TYPED_VALUES
    # Decimal equality ignores trailing zeros; the wire keeps them.
    assert (str(body["decimal"]), str(echoed["decimal"])) == ("12.3400", "-0.5000")
    assert body["datetime"].tzinfo is None
    assert body["datetime_utc"].utcoffset() == datetime.timedelta(0)


def test_edge_values_travel_exactly(redis_port: int) -> None:
    [result] = run_on_both(redis_port, {"call": "call_action", "action": "echo", "body": EDGE_BODY})
    assert ok(result)["body"] == EDGE_BODY
    assert str(ok(result)["body"]["decimal_exponent"]) == "1E+2"


@pytest.mark.parametrize("protocol_version", [2, 3])
def test_json_content_type(redis_port: int, protocol_version: int) -> None:
    body = {"list": [1, "two", None, 2.5], "map": {"k": True}, "text": "héllo"}
    plain, typed, failure = run_on_both(
        redis_port,
        {"call": "call_action", "action": "echo", "body": body},
        {"call": "call_action", "action": "types"},
        {"call": "call_action", "action": "fail"},
        serializer="json",
        protocol_version=protocol_version,
    )
    assert ok(plain)["body"] == body
    not_serializable = "Could not send the response because it failed to serialize"
    assert failed(typed)["errors"] == [error("RESPONSE_NOT_SERIALIZABLE", not_serializable, is_caller_error=False)]
    assert failed(failure)["actions"] == [{"action": "fail", "errors": [FAIL_ERROR], "body": {}}]


# --- chunked responses and size limits ------------------------------------------------------------------------------

BIG = 300_000


def test_a_chunked_response_is_reassembled_by_the_pysoa_v3_client(redis_port: int) -> None:
    big = {"action": "big", "body": {"size": BIG}}
    v3_msgpack, v3_json, in_a_job, in_parallel = run_on_both(
        redis_port,
        {"call": "call_action", **big},
        {"call": "call_action", **big, "serializer": "json"},
        {"call": "call_actions", "actions": [big, {"action": "square", "body": {"number": 3}}]},
        {"call": "call_actions_parallel", "actions": [big, {"action": "big", "body": {"size": 150_000}}, big]},
        soacore=SOACORE_CHUNK_SERVICE,
        pysoa=PYSOA_CHUNK_SERVICE,
    )
    big_response = {"action": "big", "errors": [], "body": {"data": "x" * BIG}}
    assert ok(v3_msgpack) == big_response
    assert ok(v3_json) == big_response
    assert ok(in_a_job)["actions"] == [big_response, {"action": "square", "errors": [], "body": {"square": 9}}]
    assert [len(response["body"]["data"]) for response in ok(in_parallel)] == [BIG, 150_000, BIG]


@pytest.mark.parametrize(("protocol_version", "serializer"), [(1, "msgpack"), (2, "msgpack"), (2, "json")])
def test_a_response_that_would_need_chunks_is_response_too_large_for_a_v1_or_v2_client(
    redis_port: int, protocol_version: int, serializer: str
) -> None:
    too_large, after = run_on_both(
        redis_port,
        {"call": "call_action", "action": "big", "body": {"size": BIG}},
        {"call": "call_action", "action": "square", "body": {"number": 5}},
        soacore=SOACORE_CHUNK_SERVICE,
        pysoa=PYSOA_CHUNK_SERVICE,
        protocol_version=protocol_version,
        serializer=serializer,
    )
    assert failed(too_large)["type"] == "CallJobError"
    message = "Could not send the response because it was too large"
    assert failed(too_large)["errors"] == [error("RESPONSE_TOO_LARGE", message, is_caller_error=False)]
    assert ok(after)["body"] == {"square": 25}


def test_a_response_above_the_servers_maximum_is_response_too_large_even_chunked(redis_port: int) -> None:
    # 700 KB is above the chunking soa-core server's maximum (5 x 102,400) and the PySOA peer's (600,000).
    results = run_on_both(
        redis_port,
        {"call": "call_action", "action": "big", "body": {"size": 700_000}},
        {"call": "call_action", "action": "square", "body": {"number": 4}},  # the worker goes on
        soacore=SOACORE_CHUNK_SERVICE,
        pysoa=PYSOA_CHUNK_SERVICE,
    )
    assert [e["code"] for e in failed(results[0])["errors"]] == ["RESPONSE_TOO_LARGE"]
    assert ok(results[1])["body"] == {"square": 16}


Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]
CONTENT_TYPES: dict[str, tuple[Encode, Decode]] = {
    "application/json": (lambda value: json.dumps(value).encode(), json.loads),
    "application/msgpack": (msgpack.packb, msgpack.unpackb),
}


def test_a_request_above_the_clients_default_limit_is_accepted_up_to_the_servers(redis_port: int) -> None:
    """PySOA clients may raise their 102,400-byte limit; soa-core servers take requests up to 256,000 bytes."""
    body = {"data": "y" * 200_000}
    [result] = run_on_both(
        redis_port, {"call": "call_action", "action": "echo", "body": body}, maximum_message_size_in_bytes=300_000
    )
    assert ok(result)["body"] == body


RAW_REPLY_TO = "service.{service}.0123456789abcdef0123456789abcdef!0000000000aa"


def _raw_request(
    redis_server: RedisProcess,
    service: str,
    version: int,
    content_type: str,
    size: int,
    *,
    request_id: int = 7,
    expires_in: float = 60.0,
) -> None:
    """Push one ``big`` request exactly as a PySOA 1.4.9 client frames it."""
    request = {
        "request_id": request_id,
        "meta": {
            "client_version": [1, 4, 9],
            "reply_to": RAW_REPLY_TO.format(service=service),
            "__expiry__": time.time() + expires_in,
        },
        "body": {
            "control": {"continue_on_error": False},
            "context": {"correlation_id": "raw", "switches": []},
            "actions": [{"action": "big", "body": {"size": size}}],
        },
    }
    prefix = {2: b"", 3: b"pysoa-redis/3//"}[version] + f"content-type:{content_type};".encode()
    encode, _ = CONTENT_TYPES[content_type]
    connection = redis_server.client()
    try:
        connection.rpush(f"pysoa:service.{service}", prefix + encode(request))
    finally:
        connection.close()


def _raw_reply(redis_server: RedisProcess, service: str) -> list[bytes]:
    """Pop every frame of the next reply on the raw requests' reply queue."""
    connection = redis_server.client(socket_timeout=15)
    try:
        frames: list[bytes] = []
        while True:
            popped = connection.blpop([f"pysoa:{RAW_REPLY_TO.format(service=service)}"], timeout=10)
            assert popped is not None, f"got {len(frames)} frames, then nothing"
            frame = popped[1]
            assert isinstance(frame, bytes)
            frames.append(frame)
            if b"chunk-count:" not in frames[0]:
                return frames
            if len(frames) == int(frames[0].split(b"chunk-count:")[1].split(b";")[0]):
                return frames
    finally:
        connection.close()


def _raw_call(redis_server: RedisProcess, service: str, version: int, content_type: str, size: int) -> list[bytes]:
    _raw_request(redis_server, service, version, content_type, size)
    return _raw_reply(redis_server, service)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_soacore_sends_chunk_frames_as_pysoa_149_does(
    interop_redis: RedisProcess, soacore_servers: SoaCoreServers, content_type: str
) -> None:
    """The frames themselves, so the reassembly test above is known to cross chunk boundaries."""
    frames = _raw_call(interop_redis, SOACORE_CHUNK_SERVICE, 3, content_type, 250_000)
    assert len(frames) == 3  # ceil(~250 KB / 102,400)
    payload = b""
    for chunk_id, frame in enumerate(frames, start=1):
        header = f"pysoa-redis/3//content-type:{content_type};chunk-count:3;chunk-id:{chunk_id};".encode()
        assert frame.startswith(header)
        assert len(frame) - len(header) <= CHUNK_THRESHOLD
        payload += frame[len(header) :]
    response = CONTENT_TYPES[content_type][1](payload)
    assert response["request_id"] == 7
    assert response["body"]["actions"][0]["body"]["data"] == "x" * 250_000


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_response_too_large_reaches_a_v2_client_in_v2_framing(
    interop_redis: RedisProcess, soacore_servers: SoaCoreServers, content_type: str
) -> None:
    """PySOA 1.4.9 sends this fallback in v3/msgpack whatever the request used; soa-core answers in kind."""
    [frame] = _raw_call(interop_redis, SOACORE_CHUNK_SERVICE, 2, content_type, BIG)
    header = f"content-type:{content_type};".encode()
    assert frame.startswith(header)
    response = CONTENT_TYPES[content_type][1](frame[len(header) :])
    assert response["request_id"] == 7
    assert [e["code"] for e in response["body"]["errors"]] == ["RESPONSE_TOO_LARGE"]


def test_a_request_whose_pysoa_expiry_has_passed_is_dropped(
    interop_redis: RedisProcess, soacore_servers: SoaCoreServers
) -> None:
    """PySOA stamps ``__expiry__`` with its own clock and nothing else; a soa-core server must still honour it."""
    json_type = "application/json"
    # soacore_chunk has a single worker, so it takes the requests in order.
    _raw_request(interop_redis, SOACORE_CHUNK_SERVICE, 3, json_type, 1, request_id=8, expires_in=-5.0)
    _raw_request(interop_redis, SOACORE_CHUNK_SERVICE, 3, json_type, 2, request_id=9)
    [frame] = _raw_reply(interop_redis, SOACORE_CHUNK_SERVICE)
    response = json.loads(frame[len(f"pysoa-redis/3//content-type:{json_type};") :])
    assert response["request_id"] == 9
    assert response["body"]["actions"][0]["body"] == {"data": "xx"}


# --- validation errors ----------------------------------------------------------------------------------------------


def test_validation_errors_carry_the_field_and_is_caller_error(redis_port: int) -> None:
    wrong_type, missing, extra = run_on_both(
        redis_port,
        {"call": "call_action", "action": "square", "body": {"number": "x"}},
        {"call": "call_action", "action": "square", "body": {}},
        {"call": "call_action", "action": "square", "body": {"number": 1, "extra": 2}},
    )

    def only_error(result: dict[str, Any]) -> dict[str, Any]:
        [action] = failed(result)["actions"]
        assert action["action"] == "square"
        [single] = action["errors"]
        return single  # type: ignore[no-any-return]

    assert only_error(wrong_type) == error("INVALID", "Not an integer", "number")
    assert only_error(missing) == error("MISSING", "Missing key: number", "number")
    assert only_error(extra) == error("UNKNOWN", "Extra keys present: extra", None)


def test_a_malformed_job_is_a_job_error(redis_port: int) -> None:
    [result] = run_on_both(redis_port, {"call": "call_actions", "actions": []})
    assert failed(result)["type"] == "CallJobError"
    assert failed(result)["errors"] == [error("INVALID", "List is shorter than 1", "actions", is_caller_error=False)]


def test_an_unexpected_exception_is_a_server_error_with_its_traceback(redis_port: int) -> None:
    crashed, after = run(
        redis_port,
        {"call": "call_action", "action": "crash"},
        {"call": "call_action", "action": "square", "body": {"number": 2}},
    )
    [action] = failed(crashed)["actions"]
    [server_error] = action["errors"]
    assert (server_error["code"], server_error["is_caller_error"]) == ("SERVER_ERROR", False)
    assert server_error["message"].startswith("Internal server error: ")
    assert "ZeroDivisionError: crash was asked to crash" in server_error["traceback"]
    assert ok(after)["body"] == {"square": 4}


def test_a_pysoa_callers_timeout_becomes_the_soacore_actions_time_left(redis_port: int) -> None:
    """PySOA 1.4.9 sends ``control.timeout`` (no deadline): the server counts that budget from receipt."""
    with_timeout, without = run(
        redis_port,
        {"call": "call_action", "action": "time_left", "timeout": 10},
        {"call": "call_action", "action": "time_left"},
    )
    assert 5 < ok(with_timeout)["body"]["time_left"] <= 10
    assert ok(without)["body"] == {"time_left": None}


def test_the_builtin_status_and_introspect_actions_answer_as_pysoas(redis_port: int) -> None:
    specs = (
        {"call": "call_action", "action": "introspect", "body": {"action_name": "square"}},
        {"call": "call_action", "action": "introspect", "body": {"action_name": "big"}},
        {"call": "call_action", "action": "status"},
    )
    square, big, status = run(redis_port, *specs)
    reference_square, reference_big, reference_status = run(redis_port, *specs, service=PYSOA_SERVICE)
    assert ok(square) == ok(reference_square)
    assert ok(big) == ok(reference_big)
    assert ok(square)["body"]["actions"]["square"]["request_schema"] == {
        "type": "dictionary",
        "contents": {"number": {"type": "integer"}},
        "optional_keys": [],
        "allow_extra_keys": False,
    }
    # Same shape; only the library version differs.
    ours, theirs = ok(status)["body"], ok(reference_status)["body"]
    assert (ours.pop("pysoa"), theirs.pop("pysoa")) == (SOA_CORE_VERSION, "1.4.9")
    assert ours == theirs
    assert ours["healthcheck"] == {"diagnostics": {}, "errors": [], "warnings": []}


def test_an_unknown_action(redis_port: int) -> None:
    [result] = run_on_both(redis_port, {"call": "call_action", "action": "no_such_action"})
    assert failed(result)["actions"] == [
        {
            "action": "no_such_action",
            "errors": [error("UNKNOWN", 'The action "no_such_action" was not found on this server.', "action")],
            "body": {},
        }
    ]
