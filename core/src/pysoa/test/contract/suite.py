"""The transport contract suite: behaviour every transport, with every serializer, must share.

Subclass :class:`TransportContract` in a test module (the subclass's name starting with ``Test``)
and provide one fixture, ``connect``: it returns a function that serves a server class over your
transport (starting whatever that needs, such as :class:`~pysoa.test.contract.ServerProcesses`) and
returns a :class:`~pysoa.client.Client` for it. The suite's tests are then collected for the
subclass::

    from pysoa.client import Client
    from pysoa.test.contract import Connect, TransportContract


    class TestMyTransport(TransportContract):
        @pytest.fixture
        def connect(self) -> Connect:
            def connect(server_class):
                transport = {"name": "mytransport", "kwargs": {"serializer": "msgpack"}}
                return Client({server_class.service_name: {"transport": transport}})

            return connect

A serializer that cannot carry dates, Decimals, Amounts and bytes (JSON) sets ``typed_values = False``:
then encoding them must fail with :class:`~pysoa.errors.EncodeError` instead.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from currint import Amount

from pysoa.client.client import Client
from pysoa.errors import CallActionError, CallJobError, EncodeError
from pysoa.server.server import Server
from pysoa.test.contract.service import ContractServer

__all__ = ["Connect", "TransportContract"]

Connect = Callable[[type[Server]], Client]
"""``connect(server_class) -> Client``: serves ``server_class`` over the transport under test."""


class TransportContract:
    """The contract tests; a subclass provides the ``connect`` fixture (see the module docs)."""

    typed_values: ClassVar[bool] = True
    """Whether the serializer in use carries dates, times, Decimals, Amounts and bytes (MessagePack does)."""

    @pytest.fixture
    def connect(self) -> Connect:
        raise NotImplementedError(
            f"{type(self).__name__} must provide the 'connect' fixture: a function that serves a server "
            "class over the transport under test and returns a Client for it"
        )

    def test_call_action(self, connect: Connect) -> None:
        client = connect(ContractServer)
        assert client.call_action("contract", "square", {"number": 12}).body == {"square": 144}

    def test_call_actions_with_errors_and_continue_on_error(self, connect: Connect) -> None:
        client = connect(ContractServer)
        actions: list[dict[str, Any]] = [{"action": "fail"}, {"action": "square", "body": {"number": 2}}]
        stopped = client.call_actions("contract", actions, raise_action_errors=False)
        assert [a.action for a in stopped.actions] == ["fail"]
        error = stopped.actions[0].errors[0]
        assert (error.code, error.field, error.is_caller_error) == ("NOT_AUTHORIZED", "who", True)
        both = client.call_actions("contract", actions, raise_action_errors=False, continue_on_error=True)
        assert both.actions[1].body == {"square": 4}
        with pytest.raises(CallActionError):
            client.call_actions("contract", actions)

    def test_job_errors(self, connect: Connect) -> None:
        with pytest.raises(CallJobError) as info:
            connect(ContractServer).call_action("contract", "job_fail")
        assert info.value.errors[0].code == "ACCESS_DENIED"

    def test_parallel_calls_keep_input_order(self, connect: Connect) -> None:
        client = connect(ContractServer)
        actions = [{"action": "square", "body": {"number": n}} for n in range(8)]
        results = client.call_actions_parallel("contract", actions)
        assert [r.body["square"] for r in results] == [n * n for n in range(8)]
        jobs = client.call_jobs_parallel(
            [{"service_name": "contract", "actions": [{"action": "square", "body": {"number": n}}]} for n in range(5)]
        )
        assert [j.actions[0].body["square"] for j in jobs] == [n * n for n in range(5)]

    def test_context_and_switches_arrive(self, connect: Connect) -> None:
        body = (
            connect(ContractServer)
            .call_action("contract", "context", switches=[3, 1], correlation_id="cid", context={"locale": "en_GB"})
            .body
        )
        assert body["switches"] == [1, 3]
        assert body["context"]["correlation_id"] == "cid"
        assert body["context"]["locale"] == "en_GB"

    def test_unicode_and_nesting_survive(self, connect: Connect) -> None:
        value = {"text": "héllo ☃ 𝄞", "nested": {"list": [1, 2.5, None, True, {"deep": ["x"]}]}, "big": 2**62}
        assert connect(ContractServer).call_action("contract", "echo", value).body == value

    def test_typed_values(self, connect: Connect) -> None:
        """MessagePack carries dates, times, Decimals, Amounts and bytes; JSON refuses them clearly."""
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
        if self.typed_values:
            assert client.call_action("contract", "echo", value).body == value
        else:
            with pytest.raises(EncodeError, match="datetime"):
                client.call_action("contract", "echo", value)

    def test_unknown_action_and_server_error(self, connect: Connect) -> None:
        client = connect(ContractServer)
        unknown = client.call_action("contract", "nope", raise_action_errors=False)
        assert [(e.code, e.field) for e in unknown.errors] == [("UNKNOWN", "action")]
        crash = client.call_action("contract", "crash", raise_action_errors=False)
        assert crash.errors[0].code == "SERVER_ERROR"
        assert "ZeroDivisionError" in (crash.errors[0].traceback or "")

    def test_status_and_introspect(self, connect: Connect) -> None:
        client = connect(ContractServer)
        assert "python" in client.call_action("contract", "status").body
        assert "square" in client.call_action("contract", "introspect").body["action_names"]
