"""Request/response logging: correlation ids in records, and no secret value in any log line."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from pysoa.common.logging import SENSITIVE_FIELDS, PySOALogContextFilter, RecursivelyCensoredDictWrapper, make_censor
from tests.core.services import local_client

# Key names PySOA 1.4 masked, one or more spellings of each of its terms (the interop suite checks
# every one of PySOA's names against the real PySOA 1.4.9: tests/interop/test_logging_parity.py).
PYSOA_SENSITIVE_NAMES = [
    *("password", "pass", "passwd", "passphrase", "pass_phrase", "pass-phrase", "passPhrase", "passwords"),
    *("passwds", "passphrases", "pass_phrases", "pass-phrases", "passPhrases"),
    *("private", "private_key", "private-key", "privateKey", "privates", "private_keys", "privateKeys"),
    *("secret", "secret_key", "secret-key", "secretKey", "secrets", "secret_keys", "secretKeys"),
    *("security_code", "security-code", "securityCode", "security_codes", "securityCodes"),
    *("auth", "token", "auth_token", "auth-token", "authToken"),
    *("authorization", "authorization_token", "authorization-token", "authorizationToken"),
    *("authentication", "authentication_token", "authentication-token", "authenticationToken"),
    *("credit_card", "credit-card", "creditCard", "credit_card_number", "creditCardNumber", "credit_cards"),
    *("credit_card_numbers", "creditCardNumbers", "card_number", "cardNumber", "card_numbers", "cardNumbers"),
    *("cc_number", "cc-number", "ccNumber", "cc_numbers", "ccNumbers", "ccn", "ccns"),
    *("cid", "csc", "csn", "cvc", "cvc2", "cvd", "cve", "cvn2", "cvv", "cvv2", "icvv"),
    *("cids", "cscs", "csns", "cvcs", "cvc2s", "cvds", "cves", "cvn2s", "cvvs", "cvv2s", "icvvs"),
    *("card_id", "card-id", "cardId", "card_ids", "cardIds"),
    *("card_identification", "cardIdentifications", "card_identification_code", "cardIdentificationCodes"),
    *("card_identification_number", "card-identification-numbers", "cardIdentificationValue"),
    *("card_security", "card-security", "cardSecurity", "card_securities", "card-securities", "cardSecurities"),
    *("card_security_code", "card-security-code", "cardSecurityCode", "card_security_codes"),
    *("card_security_number", "cardSecurityNumbers", "card_security_value", "cardSecurityValues"),
    *("card_validation", "cardValidations", "card_validation_code", "card-validation-number"),
    *("cardValidationValue", "card_validation_values"),
    *("card_verification", "card-verifications", "cardVerificationCode", "card_verification_numbers"),
    *("card-verification-value", "cardVerificationValues"),
    *("account_number", "account-number", "accountNumber", "account_numbers", "accountNumbers"),
    *("bank_account", "bank-account", "bankAccount", "bank_accounts", "bankAccounts"),
    *("bank_account_number", "bank-account-number", "bankAccountNumber", "bank_account_numbers"),
    *("pin", "pin_code", "pin-code", "pinCode", "pin_number", "pinNumber", "pins", "pin_codes", "pinNumbers"),
    *("personal_id_number", "personal-id-number", "personalIdNumber", "personal_id_numbers"),
    *("personal_identification_number", "personalIdentificationNumber", "personal-identification-numbers"),
]


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


@pytest.mark.parametrize("name", PYSOA_SENSITIVE_NAMES)
def test_every_name_pysoa_masked_is_masked(name: str) -> None:
    assert name in SENSITIVE_FIELDS
    assert repr(RecursivelyCensoredDictWrapper({name: "s3cr3t", "nested": {name: ["s3cr3t"]}})) == repr(
        {name: "**********", "nested": {name: ["**********"]}}
    )


def test_every_name_pysoa_masked_is_masked_in_the_job_log(caplog: pytest.LogCaptureFixture) -> None:
    body = {name: f"value-of-{name}-{index}" for index, name in enumerate(PYSOA_SENSITIVE_NAMES)}
    with caplog.at_level(logging.INFO, logger="pysoa.server.job"):
        local_client().call_action("example", "echo", body)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "pysoa.server.job")
    assert "Job request" in logged
    assert "value-of-" not in logged
    assert logged.count("**********") == 2 * len(PYSOA_SENSITIVE_NAMES)  # the echo's response carries them too


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


def test_wrapper_supports_bytes_and_formats_once() -> None:
    calls: list[Any] = []

    def counting_censor(value: Any) -> Any:
        calls.append(value)
        return make_censor()(value)

    wrapper = RecursivelyCensoredDictWrapper({"pin_code": "1234", "name": "é"}, counting_censor)
    assert bytes(wrapper) == repr({"pin_code": "**********", "name": "é"}).encode("utf-8")
    assert str(wrapper) == repr(wrapper) == bytes(wrapper).decode("utf-8")
    assert len(calls) == 1


@pytest.mark.parametrize("value", [None, "password=x", ["password"], 42])
def test_wrapper_rejects_what_is_not_a_dict(value: Any) -> None:
    with pytest.raises(ValueError, match="must be a dict"):
        RecursivelyCensoredDictWrapper(value)


def test_wrapper_subclass_may_widen_the_sensitive_names() -> None:
    class Wider(RecursivelyCensoredDictWrapper):
        SENSITIVE_FIELDS = RecursivelyCensoredDictWrapper.SENSITIVE_FIELDS | {"nickname"}

    assert str(Wider({"nickname": "Bob", "pass": "x"})) == str({"nickname": "**********", "pass": "**********"})
    assert str(RecursivelyCensoredDictWrapper({"nickname": "Bob"})) == str({"nickname": "Bob"})


# --- the logging context stack -------------------------------------------------------------------------------------


def _record() -> Any:
    """A LogRecord after the filter: it has the filter's attributes (request_id, ...), which LogRecord's type lacks."""
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "m", None, None)
    PySOALogContextFilter().filter(record)
    return record


def test_nested_request_contexts_restore_the_outer_one() -> None:
    f = PySOALogContextFilter
    assert f.get_logging_request_context() is None
    f.set_logging_request_context(request_id=1, correlation_id="outer")
    try:
        f.set_logging_request_context(request_id=2, correlation_id="inner")
        assert f.get_logging_request_context() == {"request_id": 2, "correlation_id": "inner"}
        assert (_record().request_id, _record().correlation_id) == (2, "inner")
        f.clear_logging_request_context()
        assert f.get_logging_request_context() == {"request_id": 1, "correlation_id": "outer"}
        assert (_record().request_id, _record().correlation_id) == (1, "outer")
    finally:
        f.clear_logging_request_context()
    assert f.get_logging_request_context() is None
    assert (_record().request_id, _record().correlation_id) == ("--", "--")
    f.clear_logging_request_context()  # clearing an empty stack does nothing
    assert f.get_logging_request_context() is None


def test_nested_action_names_restore_the_outer_one() -> None:
    f = PySOALogContextFilter
    f.set_logging_action_name("outer_action")
    f.set_logging_action_name("inner_action")
    assert f.get_logging_action_name() == _record().action_name == "inner_action"
    f.clear_logging_action_name()
    assert f.get_logging_action_name() == _record().action_name == "outer_action"
    f.clear_logging_action_name()
    assert f.get_logging_action_name() is None
    assert _record().action_name == "(n/a)"


def test_a_context_set_inside_an_action_is_cleared_by_the_servers_own_clear() -> None:
    # The server restores its context with a token, so an action leaving a context set cannot leak it.
    from pysoa.common import logging as soa_logging

    token = soa_logging.set_logging_request_context(request_id=7)
    PySOALogContextFilter.set_logging_request_context(request_id=8)  # never cleared by its setter
    soa_logging.clear_logging_request_context(token)
    assert PySOALogContextFilter.get_logging_request_context() is None


def test_each_asyncio_task_has_its_own_stack() -> None:
    async def in_task(name: str, started: asyncio.Event, go_on: asyncio.Event) -> Any:
        PySOALogContextFilter.set_logging_request_context(correlation_id=name)
        started.set()
        await go_on.wait()
        return PySOALogContextFilter.get_logging_request_context()

    async def main() -> list[Any]:
        events = [(asyncio.Event(), asyncio.Event()) for _ in range(2)]
        tasks = [asyncio.create_task(in_task(n, *e)) for n, e in zip(("a", "b"), events, strict=True)]
        for started, _ in events:
            await started.wait()
        for _, go_on in events:
            go_on.set()
        return list(await asyncio.gather(*tasks))

    PySOALogContextFilter.set_logging_request_context(correlation_id="main")
    try:
        assert asyncio.run(main()) == [{"correlation_id": "a"}, {"correlation_id": "b"}]
        assert PySOALogContextFilter.get_logging_request_context() == {"correlation_id": "main"}
    finally:
        PySOALogContextFilter.clear_logging_request_context()
