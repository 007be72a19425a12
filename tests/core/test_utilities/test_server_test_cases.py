"""``UnitTestServerTestCase`` and ``PyTestServerTestCase``, used as base classes, plus their settings and hooks."""

# The unittest-style assertions are what these tests exercise.
# ruff: noqa: PT009, PT027

from __future__ import annotations

import logging
import types
import unittest
from typing import Any, ClassVar

import pytest

from pysoa.client import Client
from pysoa.server import Server
from pysoa.test.server import BaseServerTestCase, PyTestServerTestCase, ServerTestCase, UnitTestServerTestCase
from pysoa.test.stub_service import stub_action
from tests.core.test_utilities.services import CalculatorServer


class TestUnitTestFlavour(UnitTestServerTestCase):
    server_class = CalculatorServer
    server_settings: ClassVar[dict[str, Any]] = {}

    def setUp(self) -> None:
        super().setUp()
        self.client_in_set_up = self.client

    def test_set_up_builds_the_client(self) -> None:
        self.assertIsInstance(self.client, Client)
        self.assertIs(self.client_in_set_up, self.client)
        self.assertEqual(self.service_name, "calculator")

    def test_call_action(self) -> None:
        self.assertEqual(self.call_action("square", {"number": 4}).body, {"square": 16})
        self.assertEqual(self.call_action("echo", {"a": 1}, service_name="calculator").body, {"a": 1})

    def test_assertion_helpers_pass(self) -> None:
        errors = self.assertActionRunsWithAndReturnErrors("refuse", {})
        self.assertEqual([e.code for e in errors], ["NOT_AUTHORIZED", "INVALID"])
        self.assertActionRunsWithFieldErrors("refuse", {}, {"number": "INVALID"})
        self.assertActionRunsWithOnlyFieldErrors("square", {}, {"number": "MISSING"})
        self.assertActionRunsWithErrorCodes("refuse", {}, "NOT_AUTHORIZED")
        self.assertActionRunsWithErrorCodes("refuse", {}, ["NOT_AUTHORIZED"])
        with stub_action("calculator", "echo", errors=[{"code": "A"}, {"code": "B"}]):
            self.assertActionRunsWithOnlyErrorCodes("echo", {}, {"A", "B"})

    def test_assertion_helpers_fail(self) -> None:
        with self.assertRaisesRegex(AssertionError, "succeeded; expected it to fail"):
            self.assertActionRunsWithAndReturnErrors("square", {"number": 1})
        with self.assertRaisesRegex(AssertionError, r"Expected errors not found in response: \[\{'number': 'X'\}\]"):
            self.assertActionRunsWithFieldErrors("refuse", {}, {"number": "X"})
        with self.assertRaisesRegex(AssertionError, r"Unexpected errors found in response: \[\('NOT_AUTHORIZED'"):
            self.assertActionRunsWithOnlyFieldErrors("refuse", {}, {"number": "INVALID"})
        with self.assertRaisesRegex(AssertionError, r"Expected errors not found in response: \['INVALID'\]"):
            self.assertActionRunsWithErrorCodes("refuse", {}, "INVALID")  # INVALID is a field error
        with self.assertRaisesRegex(AssertionError, "Unexpected errors found"):
            self.assertActionRunsWithOnlyErrorCodes("refuse", {}, "NOT_AUTHORIZED")


class CustomFailure(AssertionError):
    pass


class TestFailureException(UnitTestServerTestCase):
    server_class = CalculatorServer
    server_settings: ClassVar[dict[str, Any]] = {}
    failureException = CustomFailure

    def test_helpers_raise_the_test_cases_failure_exception(self) -> None:
        with pytest.raises(CustomFailure, match="succeeded"):
            self.assertActionRunsWithErrorCodes("square", {"number": 1}, "X")


def test_pytest_flavour_polyfills_use_its_failure_exception() -> None:
    class Case(PyTestServerTestCase):
        failureException = CustomFailure

    with pytest.raises(CustomFailure):
        Case().assertEqual(1, 2)
    Case.server_class = CalculatorServer
    Case.server_settings = {}
    case = Case()
    case.setup_method(None)
    with pytest.raises(CustomFailure, match="MISSING"):
        case.assertActionRunsWithFieldErrors("refuse", {}, {"number": "MISSING"})


class TestPyTestFlavour(PyTestServerTestCase):
    server_class = CalculatorServer
    server_settings: ClassVar[dict[str, Any]] = {}
    class_set_up: ClassVar[int] = 0

    @classmethod
    def setUpClass(cls) -> None:
        cls.class_set_up += 1

    def setUp(self) -> None:
        self.client_in_set_up = self.client

    def test_set_up_hooks_ran(self) -> None:
        assert self.class_set_up == 1
        assert self.client_in_set_up is self.client
        assert isinstance(self.client, Client)
        assert self.service_name == "calculator"

    def test_call_action_and_assertion_helpers(self) -> None:
        assert self.call_action("square", {"number": 5}).body == {"square": 25}
        self.assertActionRunsWithOnlyFieldErrors("square", {"number": "five"}, {"number": "INVALID"})
        self.assertActionRunsWithErrorCodes("refuse", {}, "NOT_AUTHORIZED")

    @stub_action("calculator", "echo", body={"stubbed": 1})
    def test_stub_action_on_a_method(self, stub_echo: Any) -> None:
        assert self.call_action("echo", {"x": 1}).body == {"stubbed": 1}
        self.assertEqual(stub_echo.call_body, {"x": 1})

    def test_unittest_assertions(self) -> None:
        self.assertEqual(1, 1)
        self.assertNotEqual(1, 2)
        self.assertTrue(True)
        self.assertFalse(False)
        self.assertIn(1, [1])
        self.assertNotIn(2, [1])
        self.assertIsNone(None)
        self.assertIsNotNone(0)
        self.assertIsInstance(1, int)
        self.assertAlmostEqual(1.0, 1.00000001)
        self.assertGreater(2, 1)
        self.assertLessEqual(1, 1)
        self.assertCountEqual([1, 2], [2, 1])
        self.assertDictEqual({"a": 1}, {"a": 1})
        self.assertRegex("abc", "b")
        with self.assertRaises(ZeroDivisionError):
            _ = 1 / 0
        with self.assertRaisesRegex(ValueError, "bad"):
            raise ValueError("bad input")
        with self.assertLogs("pysoa.test.demo", level="INFO") as logs:
            logging.getLogger("pysoa.test.demo").info("hello")
        self.assertEqual(logs.output, ["INFO:pysoa.test.demo:hello"])
        with self.assertWarns(UserWarning):
            import warnings

            warnings.warn("careful", UserWarning, stacklevel=1)

    def test_failing_unittest_assertions_raise_assertion_error(self) -> None:
        with pytest.raises(AssertionError, match="1 != 2"):
            self.assertEqual(1, 2)
        with pytest.raises(AssertionError, match="custom"):
            self.assertTrue(False, "custom")
        with pytest.raises(AssertionError, match="because"):
            self.fail("because")


def test_max_diff_is_honoured() -> None:
    class Short(PyTestServerTestCase):
        maxDiff = 10

    class Full(PyTestServerTestCase):
        maxDiff = None

    long_a, long_b = {"k": "a" * 200}, {"k": "b" * 200}
    with pytest.raises(AssertionError, match=r"Diff is \d+ characters long"):
        Short().assertEqual(long_a, long_b)
    with pytest.raises(AssertionError) as exc_info:
        Full().assertEqual(long_a, long_b)
    assert "Diff is" not in str(exc_info.value)


def test_pytest_lifecycle_runs_unittest_hooks_and_cleanups_in_order() -> None:
    events: list[str] = []

    class Lifecycle(PyTestServerTestCase):
        server_class = CalculatorServer
        server_settings: ClassVar[dict[str, Any]] = {}

        @classmethod
        def setUpClass(cls) -> None:
            events.append("setUpClass")

        @classmethod
        def tearDownClass(cls) -> None:
            events.append("tearDownClass")

        def setUp(self) -> None:
            events.append(f"setUp client={isinstance(self.client, Client)}")
            self.addCleanup(events.append, "cleanup 1")
            self.addCleanup(self._failing_cleanup)
            self.addCleanup(lambda: events.append("cleanup 3"))

        def _failing_cleanup(self) -> None:
            events.append("cleanup 2")
            raise RuntimeError("cleanup failed")

        def tearDown(self) -> None:
            events.append("tearDown")

    Lifecycle.setup_class()
    case = Lifecycle()
    case.setup_method(None)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        case.teardown_method(None)
    Lifecycle.teardown_class()

    assert events == [
        "setUpClass",
        "setUp client=True",
        "tearDown",
        "cleanup 3",
        "cleanup 2",
        "cleanup 1",
        "tearDownClass",
    ]


def test_server_test_case_is_the_pytest_flavour() -> None:
    assert ServerTestCase is PyTestServerTestCase
    assert issubclass(UnitTestServerTestCase, unittest.TestCase)
    assert issubclass(UnitTestServerTestCase, BaseServerTestCase)


def test_each_setup_builds_a_new_server() -> None:
    class Case(PyTestServerTestCase):
        server_class = CalculatorServer
        server_settings: ClassVar[dict[str, Any]] = {}

    first, second = Case(), Case()
    first.setup_method(None)
    second.setup_method(None)
    assert first.call_action("square", {"number": 2}).body == {"square": 4}
    assert second.call_action("square", {"number": 3}).body == {"square": 9}
    assert _server(first) is not _server(second)


def _server(case: BaseServerTestCase) -> Server:
    server: Server = case.client._get_handler(case.service_name).transport.server  # type: ignore[attr-defined]
    return server


# --- where the server settings come from --------------------------------------------------------------------------


def _redacted(server_settings: dict[str, Any] | None, server: type[Server] = CalculatorServer) -> Any:
    class Case(PyTestServerTestCase):
        server_class = server

    Case.server_settings = server_settings
    case = Case()
    case.setup_method(None)
    return case.call_action("settings").body["extra_fields_to_redact"]


def test_explicit_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSOA_SETTINGS_MODULE", "tests.core.test_utilities.settings_module")
    assert _redacted({"extra_fields_to_redact": {"explicit"}}) == ["explicit"]


def test_settings_module_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSOA_SETTINGS_MODULE", "tests.core.test_utilities.settings_module")
    assert _redacted(None) == ["from_settings_module"]


def test_no_settings_source_fails_the_set_up_as_in_pysoa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYSOA_SETTINGS_MODULE", raising=False)
    with pytest.raises(AssertionError, match="PYSOA_SETTINGS_MODULE environment variable must be set"):
        _redacted(None)


def test_an_unusable_settings_module_fails_the_set_up_as_in_pysoa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSOA_SETTINGS_MODULE", "tests.core.test_utilities.no_such_module")
    with pytest.raises(AssertionError, match=r"Could not import PYSOA_SETTINGS_MODULE: .*no_such_module"):
        _redacted(None)
    monkeypatch.setenv("PYSOA_SETTINGS_MODULE", "tests.core.test_utilities.services")
    with pytest.raises(AssertionError, match=r"Could not access .*services\.SOA_SERVER_SETTINGS"):
        _redacted(None)


def test_a_settings_module_may_name_its_settings_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYSOA_SETTINGS_MODULE", "tests.core.test_utilities.plain_settings_module")
    assert _redacted(None) == ["from_plain_settings"]


def test_django_servers_take_djangos_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import django.conf

    monkeypatch.setattr(
        django.conf, "settings", types.SimpleNamespace(SOA_SERVER_SETTINGS={"extra_fields_to_redact": {"django"}})
    )

    class DjangoCalculator(CalculatorServer):
        use_django = True

    class Case(PyTestServerTestCase):
        server_class = DjangoCalculator

    case = Case()
    case.setup_method(None)
    assert _server(case).settings["extra_fields_to_redact"] == {"django"}


@pytest.mark.parametrize(
    ("server_class", "message"),
    [(None, "must set server_class"), (object, "must be a Server subclass"), (Server, "must set service_name")],
)
def test_a_bad_server_class_is_reported(server_class: Any, message: str) -> None:
    class Case(PyTestServerTestCase):
        pass

    Case.server_class = server_class
    with pytest.raises(TypeError, match=message):
        Case().setup_method(None)
