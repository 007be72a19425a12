"""``pysoa.test.assertions``: each context manager, passing and failing.

The ``refuse`` action fails with ``NOT_AUTHORIZED`` (no field) and ``INVALID`` on ``number``.
"""

from __future__ import annotations

import pytest

from pysoa.client import Client
from pysoa.errors import CallJobError
from pysoa.test.assertions import (
    raises_call_action_error,
    raises_error_codes,
    raises_field_errors,
    raises_only_error_codes,
    raises_only_field_errors,
)
from pysoa.test.stub_service import stub_action

Failed = pytest.fail.Exception


def test_raises_call_action_error_exposes_the_errors(client: Client) -> None:
    with raises_call_action_error() as exc_info:
        client.call_action("calculator", "refuse")
    assert [(e.code, e.field) for e in exc_info.soa_errors]  # type: ignore[attr-defined]  # set by raises_call_action_error == [("NOT_AUTHORIZED", None), ("INVALID", "number")]


def test_raises_call_action_error_passes_pytest_raises_arguments(client: Client) -> None:
    with raises_call_action_error(match="NOT_AUTHORIZED"):
        client.call_action("calculator", "refuse")
    with (
        pytest.raises(AssertionError, match="Regex pattern did not match"),
        raises_call_action_error(match="SOMETHING_ELSE"),
    ):
        client.call_action("calculator", "refuse")


def test_raises_call_action_error_fails_when_nothing_is_raised(client: Client) -> None:
    with pytest.raises(Failed, match="DID NOT RAISE"), raises_call_action_error():
        client.call_action("calculator", "square", {"number": 1})


def test_other_errors_pass_through(client: Client) -> None:
    with (
        stub_action("calculator", "square", side_effect=CallJobError([])),
        pytest.raises(CallJobError),
        raises_call_action_error(),
    ):
        client.call_action("calculator", "square", {"number": 1})


@pytest.mark.parametrize("codes", ["NOT_AUTHORIZED", ["NOT_AUTHORIZED"], {"NOT_AUTHORIZED"}, ("NOT_AUTHORIZED",)])
def test_raises_error_codes_passes(client: Client, codes: object) -> None:
    with raises_error_codes(codes) as exc_info:  # type: ignore[arg-type]
        client.call_action("calculator", "refuse")
    assert exc_info.soa_errors  # type: ignore[attr-defined]  # set by raises_call_action_error


def test_raises_error_codes_fails_on_a_missing_code(client: Client) -> None:
    with (
        pytest.raises(Failed, match=r"Expected errors not found in response: \['NOT_FOUND'\]"),
        raises_error_codes(["NOT_AUTHORIZED", "NOT_FOUND"]),
    ):
        client.call_action("calculator", "refuse")


def test_raises_error_codes_only_matches_errors_without_a_field(client: Client) -> None:
    # INVALID is on the field "number", so it is not a plain error code.
    with pytest.raises(Failed, match="Expected errors not found"), raises_error_codes("INVALID"):
        client.call_action("calculator", "refuse")


def test_raises_only_error_codes(client: Client) -> None:
    with (
        pytest.raises(Failed, match=r"Unexpected errors found in response: \[\{'number': \('INVALID'"),
        raises_only_error_codes("NOT_AUTHORIZED"),
    ):
        client.call_action("calculator", "refuse")
    with stub_action("calculator", "square", errors=[{"code": "A"}, {"code": "B"}]):
        with raises_only_error_codes({"A", "B"}):
            client.call_action("calculator", "square")
        with raises_error_codes("A"):  # B is allowed without only
            client.call_action("calculator", "square")


def test_raises_field_errors(client: Client) -> None:
    with raises_field_errors({"number": "INVALID"}):
        client.call_action("calculator", "refuse")
    with raises_field_errors({"number": ["INVALID"]}):
        client.call_action("calculator", "refuse")
    with (
        pytest.raises(Failed, match=r"Expected errors not found in response: \[\{'number': 'MISSING'\}\]"),
        raises_field_errors({"number": "MISSING"}),
    ):
        client.call_action("calculator", "refuse")
    with pytest.raises(Failed, match="Expected errors not found"), raises_field_errors({"other": "INVALID"}):
        client.call_action("calculator", "refuse")


def test_raises_only_field_errors(client: Client) -> None:
    with (
        pytest.raises(Failed, match=r"Unexpected errors found in response: \[\('NOT_AUTHORIZED', 'Not you'\)\]"),
        raises_only_field_errors({"number": "INVALID"}),
    ):
        client.call_action("calculator", "refuse")
    with stub_action("calculator", "square", errors=[{"code": "MISSING", "field": "a"}, {"code": "X", "field": "b"}]):
        with raises_only_field_errors({"a": "MISSING", "b": {"X"}}):
            client.call_action("calculator", "square")
        with raises_field_errors({"a": "MISSING"}):  # b is allowed without only
            client.call_action("calculator", "square")
        with pytest.raises(Failed, match="Unexpected errors"), raises_field_errors({"a": "MISSING"}, only=True):
            client.call_action("calculator", "square")
