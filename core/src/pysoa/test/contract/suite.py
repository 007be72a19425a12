"""Behaviour every transport and serializer must share."""

from __future__ import annotations

import datetime
import decimal

import pytest

from pysoa.errors import CallActionError, CallJobError
from tests.contract.conftest import Connect
from tests.core.services import ExampleServer


class ContractServer(ExampleServer):
    service_name = "contract"


def test_call_action(connect: Connect) -> None:
    client = connect(ContractServer)
    assert client.call_action("contract", "square", {"number": 12}).body == {"square": 144}


def test_call_actions_with_errors_and_continue_on_error(connect: Connect) -> None:
    client = connect(ContractServer)
    actions = [{"action": "fail"}, {"action": "square", "body": {"number": 2}}]
    stopped = client.call_actions("contract", actions, raise_action_errors=False)
    assert [a.action for a in stopped.actions] == ["fail"]
    error = stopped.actions[0].errors[0]
    assert (error.code, error.field, error.is_caller_error) == ("NOT_AUTHORIZED", "who", True)
    both = client.call_actions("contract", actions, raise_action_errors=False, continue_on_error=True)
    assert both.actions[1].body == {"square": 4}
    with pytest.raises(CallActionError):
        client.call_actions("contract", actions)


def test_job_errors(connect: Connect) -> None:
    with pytest.raises(CallJobError) as info:
        connect(ContractServer).call_action("contract", "job_fail")
    assert info.value.errors[0].code == "ACCESS_DENIED"


def test_parallel_calls_keep_input_order(connect: Connect) -> None:
    client = connect(ContractServer)
    results = client.call_actions_parallel("contract", [{"action": "square", "body": {"number": n}} for n in range(8)])
    assert [r.body["square"] for r in results] == [n * n for n in range(8)]
    jobs = client.call_jobs_parallel(
        [{"service_name": "contract", "actions": [{"action": "square", "body": {"number": n}}]} for n in range(5)]
    )
    assert [j.actions[0].body["square"] for j in jobs] == [n * n for n in range(5)]


def test_context_and_switches_arrive(connect: Connect) -> None:
    body = (
        connect(ContractServer)
        .call_action("contract", "context", switches=[3, 1], correlation_id="cid", context={"locale": "en_GB"})
        .body
    )
    assert body["switches"] == [1, 3]
    assert body["context"]["correlation_id"] == "cid"
    assert body["context"]["locale"] == "en_GB"


def test_unicode_and_nesting_survive(connect: Connect) -> None:
    value = {"text": "héllo ☃ 𝄞", "nested": {"list": [1, 2.5, None, True, {"deep": ["x"]}]}, "big": 2**62}
    assert connect(ContractServer).call_action("contract", "echo", value).body == value


def test_typed_values(connect: Connect, backend: str) -> None:
    """MessagePack carries dates, times, Decimals, Amounts and bytes; JSON refuses them clearly."""
    from currint import Amount

    from pysoa.errors import EncodeError

    value = {
        "when": datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
        "when_utc": datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        "day": datetime.date(2020, 2, 29),
        "at": datetime.time(23, 59, 59, 999999),
        "price": decimal.Decimal("12.3400"),
        "amount": Amount.from_code_and_minor("USD", 1234),
        "raw": b"\x00\x01",
    }
    client = connect(ContractServer)
    if "json" in backend:
        with pytest.raises(EncodeError, match="datetime"):
            client.call_action("contract", "echo", value)
    else:
        assert client.call_action("contract", "echo", value).body == value


def test_unknown_action_and_server_error(connect: Connect) -> None:
    client = connect(ContractServer)
    unknown = client.call_action("contract", "nope", raise_action_errors=False)
    assert [(e.code, e.field) for e in unknown.errors] == [("UNKNOWN", "action")]
    crash = client.call_action("contract", "crash", raise_action_errors=False)
    assert crash.errors[0].code == "SERVER_ERROR"
    assert "ZeroDivisionError" in (crash.errors[0].traceback or "")


def test_status_and_introspect(connect: Connect) -> None:
    client = connect(ContractServer)
    assert "python" in client.call_action("contract", "status").body
    assert "square" in client.call_action("contract", "introspect").body["action_names"]
