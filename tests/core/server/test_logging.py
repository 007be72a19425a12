"""Request/response logging: correlation ids in records, and no secret value in any log line."""

from __future__ import annotations

import logging

import pytest

from pysoa.common.logging import SENSITIVE_FIELDS, PySOALogContextFilter, RecursivelyCensoredDictWrapper, make_censor
from tests.core.services import local_client


def test_censoring_matches_pysoa() -> None:
    value = {
        "password": "x",
        "token": 5,
        "auth": {"user": "u", "password": "p"},
        "secrets": ["a", "", 1.5, True],
        "pin": 0,
    }
    assert repr(RecursivelyCensoredDictWrapper(value)) == repr(
        {
            "password": "**********",
            "token": "**********",
            "auth": {"user": "u", "password": "**********"},
            "secrets": ["**********", "", 1.5, True],
            "pin": 0,
        }
    )
    assert value["password"] == "x"  # the original is untouched


def test_sensitive_field_spellings() -> None:
    for name in ("password", "passwords", "api_key", "api-key", "apiKey", "ApiKey", "creditCardNumber", "cvv", "ssn"):
        assert name in SENSITIVE_FIELDS, name
    assert "username" not in SENSITIVE_FIELDS


def test_extra_fields_are_redacted() -> None:
    censor = make_censor({"favourite_colour"})
    assert censor({"favourite_colour": "blue", "nested": [{"favourite_colour": "red"}]}) == {
        "favourite_colour": "**********",
        "nested": [{"favourite_colour": "**********"}],
    }


def test_no_secret_reaches_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    client = local_client(
        server_settings={
            "extra_fields_to_redact": {"mothers_maiden_name"},
            "request_log_error_level": "WARNING",
        }
    )
    secrets = ["hunter2-secret", "tok-123456", "Smithsonian", "4111111111111111"]
    with caplog.at_level(logging.DEBUG):
        client.call_action(
            "example",
            "echo",
            {"password": secrets[0], "nested": {"authToken": secrets[1]}, "mothers_maiden_name": secrets[2]},
            context={"credit_card_number": secrets[3]},
        )
        client.call_action("example", "fail", {"password": secrets[0]}, raise_action_errors=False)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Job request" in text
    assert "Job response" in text
    for secret in secrets:
        assert secret not in text


def test_records_carry_correlation_and_request_ids(caplog: pytest.LogCaptureFixture) -> None:
    handler_filter = PySOALogContextFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger="pysoa.server.job"):
            local_client().call_action("example", "echo", correlation_id="corr-xyz")
    finally:
        caplog.handler.removeFilter(handler_filter)
    records = [r for r in caplog.records if r.name == "pysoa.server.job"]
    assert records
    assert all(getattr(r, "correlation_id", None) == "corr-xyz" for r in records)
    assert all(getattr(r, "request_id", "--") != "--" for r in records)


def test_failed_jobs_log_at_the_error_level(caplog: pytest.LogCaptureFixture) -> None:
    client = local_client(server_settings={"request_log_success_level": "DEBUG", "request_log_error_level": "ERROR"})
    with caplog.at_level(logging.INFO, logger="pysoa.server.job"):
        client.call_action("example", "echo")
        assert not [r for r in caplog.records if r.name == "pysoa.server.job"]
        client.call_action("example", "fail", raise_action_errors=False)
    levels = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records if r.name == "pysoa.server.job"]
    assert levels == [("ERROR", "Job request"), ("ERROR", "Job response")]
