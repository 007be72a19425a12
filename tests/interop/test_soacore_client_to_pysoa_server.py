"""A soa-core client calls real PySOA 1.4.9 servers (peer_server.py, in their own venv) over Redis.

The client runs in this process, so the tests see soa-core's own types: ActionResponse, JobResponse, Error and the
CallActionError / CallJobError / transport errors of :mod:`pysoa.errors`.
"""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any

import pytest
import pytz

from pysoa.client import Client
from pysoa.common.types import ActionResponse, Error, JobResponse
from pysoa.errors import CallActionError, CallJobError, MessageReceiveTimeout
from tests.otel.conftest import Telemetry, telemetry
from tests.redis_transport.servers import RedisProcess

from .services import (
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
__all__ = ["telemetry"]  # soa-otel's in-memory OpenTelemetry SDK, a fixture shared with tests/otel

SERVICES = (PYSOA_SERVICE, PYSOA_CHUNK_SERVICE, SOACORE_SERVICE, SOACORE_CHUNK_SERVICE)
BIG = 300_000
FAIL_ERROR = Error(code="INVALID", message="fail was asked to fail", field="reason", is_caller_error=True)


@pytest.fixture
def redis_server(
    interop_redis: RedisProcess, pysoa_servers: PySOAServers, soacore_servers: SoaCoreServers
) -> RedisProcess:
    return interop_redis


def make_client(
    redis_server: RedisProcess, *, protocol_version: int = 3, serializer: str = "msgpack", **transport_kwargs: Any
) -> Client:
    kwargs = {
        "url": redis_server.url,
        "protocol_version": protocol_version,
        "default_serializer_config": serializer,
        **transport_kwargs,
    }
    return Client({name: {"transport": {"name": "redis", "kwargs": kwargs}} for name in SERVICES})


def square(n: int) -> ActionResponse:
    return ActionResponse(action="square", errors=[], body={"square": n * n})


FAILURE = ActionResponse(action="fail", errors=[FAIL_ERROR], body={})


# --- call kinds -----------------------------------------------------------------------------------------------------


def test_call_action(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    body = {"text": "héllo", "nested": {"list": [1, "two", None, 2.5, True]}, "big": 2**40, "neg": -7, "f": 0.1}
    assert client.call_action(PYSOA_SERVICE, "square", {"number": 12}, timeout=10) == square(12)
    assert client.call_action(PYSOA_SERVICE, "echo", body, timeout=10) == ActionResponse("echo", [], body)


def test_call_action_error_is_a_call_action_error_with_the_actions_errors(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    with pytest.raises(CallActionError) as caught:
        client.call_action(PYSOA_SERVICE, "fail", {"code": "NOPE", "message": "no", "field": "f.0"}, timeout=10)
    # is_caller_error is True only because soa-core's client_version made PySOA include it (it omits it for < 0.70).
    error = Error(code="NOPE", message="no", field="f.0", is_caller_error=True)
    assert caught.value.actions == [ActionResponse(action="fail", errors=[error], body={})]
    unraised = client.call_action(PYSOA_SERVICE, "fail", raise_action_errors=False, timeout=10)
    assert unraised == FAILURE


ACTIONS_WITH_ERROR: list[dict[str, Any]] = [
    {"action": "square", "body": {"number": 2}},
    {"action": "fail"},
    {"action": "square", "body": {"number": 3}},
]


def test_call_actions_stops_at_the_first_error_unless_continue_on_error(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    options: dict[str, Any] = {"correlation_id": "job-1", "timeout": 10}
    stopped = client.call_actions(PYSOA_SERVICE, ACTIONS_WITH_ERROR, raise_action_errors=False, **options)
    assert stopped == JobResponse(errors=[], context={"correlation_id": "job-1"}, actions=[square(2), FAILURE])
    continued = client.call_actions(
        PYSOA_SERVICE, ACTIONS_WITH_ERROR, raise_action_errors=False, continue_on_error=True, **options
    )
    assert continued == JobResponse(
        errors=[], context={"correlation_id": "job-1"}, actions=[square(2), FAILURE, square(3)]
    )
    for continue_on_error in (False, True):
        with pytest.raises(CallActionError) as caught:
            client.call_actions(PYSOA_SERVICE, ACTIONS_WITH_ERROR, continue_on_error=continue_on_error, **options)
        assert caught.value.actions == [FAILURE]


def test_call_actions_parallel_keeps_request_order(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    squares = [{"action": "square", "body": {"number": n}} for n in range(12)]
    assert list(client.call_actions_parallel(PYSOA_SERVICE, squares, timeout=10)) == [square(n) for n in range(12)]
    mixed = client.call_actions_parallel(PYSOA_SERVICE, ACTIONS_WITH_ERROR, raise_action_errors=False, timeout=10)
    assert list(mixed) == [square(2), FAILURE, square(3)]
    with pytest.raises(CallActionError) as caught:
        list(client.call_actions_parallel(PYSOA_SERVICE, ACTIONS_WITH_ERROR, timeout=10))
    assert caught.value.actions == [FAILURE]


def test_call_jobs_parallel_across_pysoa_and_soacore_services(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    jobs: list[dict[str, Any]] = [
        {"service_name": PYSOA_SERVICE, "actions": [{"action": "echo", "body": {"to": "pysoa"}}]},
        {"service_name": SOACORE_SERVICE, "actions": [{"action": "echo", "body": {"to": "soa-core"}}]},
        {"service_name": PYSOA_SERVICE, "actions": [{"action": "fail"}, {"action": "square", "body": {"number": 5}}]},
        {"service_name": PYSOA_CHUNK_SERVICE, "actions": [{"action": "square", "body": {"number": 6}}]},
    ]
    context = {"correlation_id": "jobs-1"}
    continued = client.call_jobs_parallel(
        jobs, continue_on_error=True, raise_action_errors=False, correlation_id="jobs-1", timeout=10
    )
    assert continued == [
        JobResponse(errors=[], context=context, actions=[ActionResponse("echo", [], {"to": "pysoa"})]),
        JobResponse(errors=[], context=context, actions=[ActionResponse("echo", [], {"to": "soa-core"})]),
        JobResponse(errors=[], context=context, actions=[FAILURE, square(5)]),
        JobResponse(errors=[], context=context, actions=[square(6)]),
    ]
    stopped = client.call_jobs_parallel(jobs, raise_action_errors=False, correlation_id="jobs-1", timeout=10)
    assert stopped[2] == JobResponse(errors=[], context=context, actions=[FAILURE])


# --- context and switches -------------------------------------------------------------------------------------------


def test_context_switches_and_control_reach_the_pysoa_action(redis_server: RedisProcess) -> None:
    """The deadline rides in ``control``, where PySOA 1.4.9 allows extra keys: its action runs and sees it."""
    client = make_client(redis_server)
    sent_at = time.time()
    response = client.call_action(
        PYSOA_SERVICE,
        "context",
        switches=[5, 2, 5],
        correlation_id="corr-1",
        context={"locale": "fr_FR", "auth_token": "t0k", "extra": {"nested": [1, 2]}},
        control_extra={"trace": True},
        timeout=10,
    )
    deadline = response.body["control"].pop("deadline")
    assert sent_at + 10 <= deadline <= time.time() + 10
    assert response.body == {
        "context": {
            "correlation_id": "corr-1",
            "switches": [2, 5],
            "locale": "fr_FR",
            "auth_token": "t0k",
            "extra": {"nested": [1, 2]},
        },
        "switches": [2, 5],
        "control": {"continue_on_error": False, "suppress_response": False, "trace": True, "timeout": 10},
    }


def test_the_job_response_context_carries_the_correlation_id(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    given = client.call_actions(PYSOA_SERVICE, [{"action": "context"}], correlation_id="corr-2", timeout=10)
    assert given.context == {"correlation_id": "corr-2"}
    generated = client.call_actions(PYSOA_SERVICE, [{"action": "context"}], timeout=10)
    made_up = generated.actions[0].body["context"]["correlation_id"]
    assert made_up
    assert generated.context == {"correlation_id": made_up}


def test_a_client_context_chains_into_calls_to_pysoa(redis_server: RedisProcess) -> None:
    """What a soa-core action's ``request.client`` does: the incoming context rides along with every call."""
    client = make_client(redis_server).with_context({"correlation_id": "outer", "switches": [9], "locale": "de_DE"})
    response = client.call_action(PYSOA_SERVICE, "context", switches=[1], timeout=10)
    assert response.body["context"] == {"correlation_id": "outer", "switches": [1, 9], "locale": "de_DE"}
    assert response.body["switches"] == [1, 9]


# --- typed values, content types, protocol versions -----------------------------------------------------------------


@pytest.mark.parametrize("protocol_version", [1, 2, 3])
def test_typed_values_travel_both_ways_exactly(redis_server: RedisProcess, protocol_version: int) -> None:
    client = make_client(redis_server, protocol_version=protocol_version)
    body = dict(client.call_action(PYSOA_SERVICE, "types", TYPED_INPUT, timeout=10).body)
    echoed = body.pop("echo")
    assert echoed == TYPED_INPUT
    assert body.pop("echo_types") == TYPED_INPUT_TYPES
    assert body == TYPED_VALUES
    # Decimal equality ignores trailing zeros; the wire keeps them.
    assert (str(body["decimal"]), str(echoed["decimal"])) == ("12.3400", "-0.5000")
    assert body["datetime"].tzinfo is None
    assert body["datetime_utc"].utcoffset() == datetime.timedelta(0)
    # PySOA code checks the zone against pytz.UTC, as PySOA's own client decoded it.
    assert body["datetime_utc"].tzinfo == pytz.UTC
    assert repr(body["datetime_utc"]).endswith("tzinfo=<UTC>)")


def test_edge_values_travel_exactly(redis_server: RedisProcess) -> None:
    body = make_client(redis_server).call_action(PYSOA_SERVICE, "echo", EDGE_BODY, timeout=10).body
    assert body == EDGE_BODY
    assert str(body["decimal_exponent"]) == "1E+2"


def test_an_aware_datetime_in_another_zone_reaches_pysoa_as_the_same_instant_in_utc(
    redis_server: RedisProcess,
) -> None:
    """PySOA 1.4.9 refuses non-UTC aware datetimes; soa-core converts them to UTC so a PySOA server can read them."""
    paris_summer = datetime.timezone(datetime.timedelta(hours=2))
    sent = datetime.datetime(2020, 5, 5, 12, 0, 0, 500000, tzinfo=paris_summer)
    body = make_client(redis_server).call_action(PYSOA_SERVICE, "types", {"aware": sent}, timeout=10).body
    assert body["echo_types"] == {"aware": "datetime-utc"}
    assert body["echo"]["aware"] == sent
    assert body["echo"]["aware"].utcoffset() == datetime.timedelta(0)
    assert body["echo"]["aware"].replace(tzinfo=None) == datetime.datetime(2020, 5, 5, 10, 0, 0, 500000)


@pytest.mark.parametrize("protocol_version", [2, 3])
def test_json_content_type(redis_server: RedisProcess, protocol_version: int) -> None:
    client = make_client(redis_server, protocol_version=protocol_version, serializer="json")
    body = {"list": [1, "two", None, 2.5], "map": {"k": True}, "text": "héllo"}
    assert client.call_action(PYSOA_SERVICE, "echo", body, timeout=10).body == body
    with pytest.raises(CallJobError) as caught:
        client.call_action(PYSOA_SERVICE, "types", timeout=10)
    assert caught.value.errors == [
        Error(code="RESPONSE_NOT_SERIALIZABLE", message="Could not send the response because it failed to serialize")
    ]
    assert client.call_action(PYSOA_SERVICE, "fail", raise_action_errors=False, timeout=10) == FAILURE


# --- chunked responses and size limits ------------------------------------------------------------------------------


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_a_chunked_response_from_pysoa_is_reassembled(redis_server: RedisProcess, serializer: str) -> None:
    client = make_client(redis_server, serializer=serializer)
    big = {"action": "big", "body": {"size": BIG}}
    big_response = ActionResponse(action="big", errors=[], body={"data": "x" * BIG})
    assert client.call_action(PYSOA_CHUNK_SERVICE, "big", {"size": BIG}, timeout=10) == big_response
    job = client.call_actions(PYSOA_CHUNK_SERVICE, [big, {"action": "square", "body": {"number": 3}}], timeout=10)
    assert job.actions == [big_response, square(3)]
    # Several chunked responses interleaved with small ones on one reply queue.
    actions = [big, {"action": "big", "body": {"size": 150_000}}, {"action": "square", "body": {"number": 4}}, big]
    responses = client.call_actions_parallel(PYSOA_CHUNK_SERVICE, actions, timeout=10)
    assert list(responses) == [
        big_response,
        ActionResponse(action="big", errors=[], body={"data": "x" * 150_000}),
        square(4),
        big_response,
    ]


def test_futures_resolve_in_any_order_with_chunked_responses(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    first_big = client.call_action_future(PYSOA_CHUNK_SERVICE, "big", {"size": BIG}, timeout=10)
    small = client.call_action_future(PYSOA_CHUNK_SERVICE, "square", {"number": 7}, timeout=10)
    job = client.call_actions_future(
        PYSOA_CHUNK_SERVICE, [{"action": "big", "body": {"size": 150_000}}, {"action": "echo"}], timeout=10
    )
    assert job.result().actions == [
        ActionResponse(action="big", errors=[], body={"data": "x" * 150_000}),
        ActionResponse(action="echo", errors=[], body={}),
    ]
    assert small.result() == square(7)
    assert first_big.result() == ActionResponse(action="big", errors=[], body={"data": "x" * BIG})


def test_a_request_above_the_clients_default_limit_is_accepted_up_to_the_servers(redis_server: RedisProcess) -> None:
    """A soa-core client may raise its 102,400-byte limit; PySOA servers take requests up to 256,000 bytes."""
    client = make_client(redis_server, maximum_message_size_in_bytes=300_000)
    body = {"data": "y" * 200_000}
    assert client.call_action(PYSOA_SERVICE, "echo", body, timeout=10).body == body


@pytest.mark.parametrize("serializer", ["msgpack", "json"])
def test_a_v2_client_gets_response_too_large_instead_of_chunks(redis_server: RedisProcess, serializer: str) -> None:
    """PySOA 1.4.9 frames this fallback v3/msgpack even for a v2/JSON request; the soa-core client still reads it."""
    client = make_client(redis_server, protocol_version=2, serializer=serializer)
    with pytest.raises(CallJobError) as caught:
        client.call_action(PYSOA_CHUNK_SERVICE, "big", {"size": BIG}, timeout=10)
    assert [error.code for error in caught.value.errors] == ["RESPONSE_TOO_LARGE"]
    assert client.call_action(PYSOA_CHUNK_SERVICE, "square", {"number": 8}, timeout=10) == square(8)


# --- errors ---------------------------------------------------------------------------------------------------------


def test_validation_errors_carry_the_field_and_is_caller_error(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    cases: list[tuple[dict[str, Any], Error]] = [
        ({"number": "x"}, Error(code="INVALID", message="Not an integer", field="number", is_caller_error=True)),
        ({}, Error(code="MISSING", message="Missing key: number", field="number", is_caller_error=True)),
        ({"number": 1, "extra": 2}, Error(code="UNKNOWN", message="Extra keys present: extra", is_caller_error=True)),
    ]
    for body, expected in cases:
        with pytest.raises(CallActionError) as caught:
            client.call_action(PYSOA_SERVICE, "square", body, timeout=10)
        assert caught.value.actions == [ActionResponse(action="square", errors=[expected], body={})]


def test_an_unknown_action(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    with pytest.raises(CallActionError) as caught:
        client.call_action(PYSOA_SERVICE, "no_such_action", timeout=10)
    message = 'The action "no_such_action" was not found on this server.'
    expected = Error(code="UNKNOWN", message=message, field="action", is_caller_error=True)
    assert caught.value.actions == [ActionResponse(action="no_such_action", errors=[expected], body={})]


def test_after_a_timeout_the_late_reply_is_dropped_and_the_next_call_works(redis_server: RedisProcess) -> None:
    client = make_client(redis_server)
    with pytest.raises(MessageReceiveTimeout):
        client.call_action(PYSOA_SERVICE, "sleep", {"seconds": 2}, timeout=1)
    # The single-threaded PySOA server took the sleep within its 1 s expiry, answers it late and only then this
    # call, on the same reply queue: the late reply comes first and must be dropped by its request id.
    assert client.call_action(PYSOA_SERVICE, "square", {"number": 3}, timeout=10) == square(3)
    assert client.call_action(PYSOA_SERVICE, "echo", {"then": "this"}, timeout=10).body == {"then": "this"}


# --- soa-otel ---------------------------------------------------------------------------------------------------------


def test_a_client_with_soa_otel_calls_pysoa_which_passes_the_trace_headers_by_untouched(
    redis_server: RedisProcess, telemetry: Telemetry
) -> None:
    """PySOA 1.4.9 accepts the extra ``otel`` context entry (its schema allows extra keys) and answers as usual."""
    kwargs = {"url": redis_server.url}
    client = Client({PYSOA_SERVICE: {"transport": {"name": "redis", "kwargs": kwargs}, "middleware": ["otel"]}})
    assert client.call_action(PYSOA_SERVICE, "square", {"number": 3}, timeout=10) == square(3)
    seen = client.call_action(PYSOA_SERVICE, "context", timeout=10).body["context"]["otel"]
    spans = [span for span in telemetry.finished() if span.name == f"{PYSOA_SERVICE}/job"]
    assert len(spans) == 2
    assert spans[1].context is not None
    assert seen["traceparent"].startswith(f"00-{spans[1].context.trace_id:032x}-{spans[1].context.span_id:016x}-")
    assert spans[0].status.status_code.name == "UNSET"
