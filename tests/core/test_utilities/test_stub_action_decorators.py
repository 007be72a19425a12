"""``stub_action`` under decorators that re-apply patches through ``decorate_callable`` (``parameterized.expand``).

This module importing at all is the first check: ``parameterized.expand`` re-wraps the test functions
when the class body runs, calling each patch's ``decorate_callable``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

from parameterized import parameterized

from pysoa.client import Client
from pysoa.test.stub_service import StubActionMock, stub_action
from tests.core.test_utilities.services import RECEIVED, calculator_client


def helper() -> str:
    return "real"


class TestStackedUnderParameterizedExpand:
    seen: list[tuple[int, int]] = []

    @parameterized.expand([(2, 4), (3, 9)])
    @stub_action("calculator", "echo", body={"stubbed": True})
    @mock.patch(f"{__name__}.helper", return_value="patched")
    def test_each_case_gets_its_params_then_the_mocks(
        self, number: int, square: int, patched_helper: mock.MagicMock, stub_echo: StubActionMock
    ) -> None:
        client: Client = calculator_client()
        assert helper() == "patched"
        assert isinstance(patched_helper, mock.MagicMock)
        assert client.call_action("calculator", "square", {"number": number}).body == {"square": square}
        assert client.call_action("calculator", "echo", {"n": number}).body == {"stubbed": True}
        # Each case runs with the stub active and its mock counting only this case's call.
        self.seen.append((number, stub_echo.call_count))

    def test_zz_every_case_ran_with_its_own_activation(self) -> None:
        assert sorted(self.seen) == [(2, 1), (3, 1)]


def test_coroutine_functions_are_rewrapped_with_decorate_async_callable() -> None:
    results: list[Any] = []
    RECEIVED.clear()

    class Cases:
        @parameterized.expand([(5,), (6,)])
        @stub_action("calculator", "echo", side_effect=lambda body: {"echoed": body["n"]})
        async def test_case(self, number: int, stub_echo: StubActionMock) -> None:
            body = calculator_client().call_action("calculator", "echo", {"n": number}).body
            results.append((body, stub_echo.call_count))

    cases = Cases()
    names = sorted(name for name in vars(Cases) if name.startswith("test_case_"))
    assert len(names) == 2
    for name in names:
        asyncio.run(getattr(cases, name)())
    assert results == [({"echoed": 5}, 1), ({"echoed": 6}, 1)]
    assert RECEIVED == []


def test_the_decorator_protocol_is_public() -> None:
    stub = stub_action("calculator", "echo")

    def plain(stub_echo: StubActionMock) -> str:
        return stub_echo.name if isinstance(stub_echo.name, str) else "mock"

    wrapped = stub.decorate_callable(plain)
    assert wrapped.patchings == [stub]  # type: ignore[attr-defined]
    assert wrapped() is not None  # type: ignore[call-arg]  # the stub passes the mock
    assert not stub.enabled

    class Suite:
        def test_one(self, stub_echo: StubActionMock) -> StubActionMock:
            return stub_echo

        def helper(self) -> str:
            return "untouched"

    decorated = stub.decorate_class(Suite)
    assert decorated is Suite
    assert isinstance(Suite().test_one(), StubActionMock)  # type: ignore[call-arg]  # the stub passes the mock
    assert Suite().helper() == "untouched"
