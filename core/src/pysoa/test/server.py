"""Base classes for testing a service: it runs in-process over the local transport (``soa-local``).

.. code-block:: python

    class TestSquare(PyTestServerTestCase):
        server_class = SquareServer
        server_settings = {}  # None: $PYSOA_SETTINGS_MODULE's SOA_SERVER_SETTINGS (or Django's)

        def test_square(self):
            assert self.call_action('square', {'number': 3}).body == {'square': 9}

        def test_missing_number(self):
            self.assertActionRunsWithOnlyFieldErrors('square', {}, {'number': 'MISSING'})

``UnitTestServerTestCase`` is the same for :mod:`unittest`. Each test gets a new ``self.client``
(and so a new server instance).
"""

from __future__ import annotations

import unittest
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from pysoa.client.client import Client
from pysoa.common.types import Error
from pysoa.errors import CallActionError
from pysoa.server.server import Server
from pysoa.test._support import default_server_settings, error_mismatch_message, local_client_settings

__all__ = ["BaseServerTestCase", "PyTestServerTestCase", "ServerTestCase", "UnitTestServerTestCase"]


class BaseServerTestCase:
    """What both test case classes share: ``setup_pysoa()`` and the call and assertion helpers."""

    server_class: ClassVar[type[Server] | None] = None
    server_settings: ClassVar[Mapping[str, Any] | None] = None

    client: Client
    service_name: str

    def setup_pysoa(self) -> None:
        """Build ``self.client``, reaching a new instance of ``server_class`` in-process."""
        server_class = self.server_class
        if server_class is None:
            raise TypeError(f"{type(self).__name__} must set server_class")
        if not (isinstance(server_class, type) and issubclass(server_class, Server)):
            raise TypeError(f"{type(self).__name__}.server_class must be a Server subclass, not {server_class!r}")
        if not server_class.service_name:
            raise TypeError(f"{server_class.__name__} must set service_name")
        self.service_name = server_class.service_name
        settings = self.server_settings
        if settings is None:
            settings = default_server_settings(server_class)
        self.client = Client(local_client_settings(server_class, settings))

    def _failure(self, message: str) -> BaseException:
        # unittest lets a test case choose its failure exception; AssertionError otherwise.
        failure_exception: type[BaseException] = getattr(self, "failureException", AssertionError)
        return failure_exception(message)

    def call_action(
        self, action: str, body: Mapping[str, Any] | None = None, service_name: str | None = None, **kwargs: Any
    ) -> Any:
        """``self.client.call_action`` on the service under test (or ``service_name``)."""
        return self.client.call_action(service_name or self.service_name, action, body, **kwargs)

    def assertActionRunsWithAndReturnErrors(
        self, action: str, body: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[Error]:
        """Call the action, assert that it fails, and return its errors."""
        try:
            self.call_action(action, body, **kwargs)
        except CallActionError as exc:
            return list(exc.actions[0].errors) if exc.actions else []
        raise self._failure(f"Action {action!r} succeeded; expected it to fail")

    def assertActionRunsWithFieldErrors(
        self,
        action: str,
        body: Mapping[str, Any] | None,
        field_errors: Mapping[str, str | Iterable[str]],
        only: bool = False,
        **kwargs: Any,
    ) -> None:
        """Assert that the action fails with (at least; with ``only``, exactly) these ``{field: code(s)}``."""
        errors = self.assertActionRunsWithAndReturnErrors(action, body, **kwargs)
        problem = error_mismatch_message(errors, field_errors=field_errors, only=only)
        if problem:
            raise self._failure(problem)

    def assertActionRunsWithOnlyFieldErrors(
        self,
        action: str,
        body: Mapping[str, Any] | None,
        field_errors: Mapping[str, str | Iterable[str]],
        **kwargs: Any,
    ) -> None:
        self.assertActionRunsWithFieldErrors(action, body, field_errors, only=True, **kwargs)

    def assertActionRunsWithErrorCodes(
        self,
        action: str,
        body: Mapping[str, Any] | None,
        error_codes: str | Iterable[str],
        only: bool = False,
        **kwargs: Any,
    ) -> None:
        """Assert that the action fails with (at least; with ``only``, exactly) these non-field error codes."""
        errors = self.assertActionRunsWithAndReturnErrors(action, body, **kwargs)
        problem = error_mismatch_message(errors, codes=error_codes, only=only)
        if problem:
            raise self._failure(problem)

    def assertActionRunsWithOnlyErrorCodes(
        self, action: str, body: Mapping[str, Any] | None, error_codes: str | Iterable[str], **kwargs: Any
    ) -> None:
        self.assertActionRunsWithErrorCodes(action, body, error_codes, only=True, **kwargs)


class UnitTestServerTestCase(unittest.TestCase, BaseServerTestCase):
    """A :class:`unittest.TestCase`; ``setUp`` builds ``self.client``."""

    def setUp(self) -> None:
        super().setUp()
        self.setup_pysoa()


def _polyfill(name: str) -> Callable[..., Any]:
    def method(self: PyTestServerTestCase, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._unittest_asserter(), name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = getattr(unittest.TestCase, name).__doc__
    return method


class PyTestServerTestCase(BaseServerTestCase):
    """A pytest test class (name yours ``Test...``); ``setup_method`` builds ``self.client``.

    For tests moved from :mod:`unittest` it also runs ``setUpClass`` / ``setUp`` / ``tearDown`` /
    ``tearDownClass`` and ``addCleanup`` functions at the matching pytest hooks, and offers the
    ``assert*`` methods and ``fail`` of :class:`unittest.TestCase` (honouring ``maxDiff``,
    ``longMessage`` and ``failureException``). ``setUp`` runs after ``self.client`` is built.
    """

    failureException: ClassVar[type[BaseException]] = AssertionError
    maxDiff: ClassVar[int | None] = unittest.TestCase.maxDiff
    longMessage: ClassVar[bool] = unittest.TestCase.longMessage

    _cleanups: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]

    @classmethod
    def setup_class(cls) -> None:
        cls.setUpClass()

    @classmethod
    def teardown_class(cls) -> None:
        cls.tearDownClass()

    def setup_method(self, method: Callable[..., Any] | None = None) -> None:
        self._cleanups = []
        self.setup_pysoa()
        self.setUp()

    def teardown_method(self, method: Callable[..., Any] | None = None) -> None:
        try:
            self.tearDown()
        finally:
            self.doCleanups()

    # --- unittest-style hooks: override them (they do nothing here) -------------------------------------

    @classmethod
    def setUpClass(cls) -> None:
        """Runs once before the class's tests."""

    @classmethod
    def tearDownClass(cls) -> None:
        """Runs once after the class's tests."""

    def setUp(self) -> None:
        """Runs before each test, after ``self.client`` is built."""

    def tearDown(self) -> None:
        """Runs after each test, before the cleanups."""

    def addCleanup(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Call ``function(*args, **kwargs)`` after the test (last added, first called)."""
        self._cleanups.append((function, args, kwargs))

    def doCleanups(self) -> None:
        """Call the cleanups now; each runs even if an earlier one failed, then the first error is raised."""
        first_error: BaseException | None = None
        while self._cleanups:
            function, args, kwargs = self._cleanups.pop()
            try:
                function(*args, **kwargs)
            except Exception as exc:
                if first_error is None:
                    first_error = exc
        if first_error is not None:
            raise first_error

    # --- unittest's assertion methods ----------------------------------------------------------------------

    def _unittest_asserter(self) -> unittest.TestCase:
        asserter = unittest.TestCase()
        asserter.failureException = self.failureException
        asserter.maxDiff = self.maxDiff
        asserter.longMessage = self.longMessage
        return asserter

    fail = _polyfill("fail")
    assertEqual = _polyfill("assertEqual")
    assertNotEqual = _polyfill("assertNotEqual")
    assertTrue = _polyfill("assertTrue")
    assertFalse = _polyfill("assertFalse")
    assertIs = _polyfill("assertIs")
    assertIsNot = _polyfill("assertIsNot")
    assertIsNone = _polyfill("assertIsNone")
    assertIsNotNone = _polyfill("assertIsNotNone")
    assertIn = _polyfill("assertIn")
    assertNotIn = _polyfill("assertNotIn")
    assertIsInstance = _polyfill("assertIsInstance")
    assertNotIsInstance = _polyfill("assertNotIsInstance")
    assertRaises = _polyfill("assertRaises")
    assertRaisesRegex = _polyfill("assertRaisesRegex")
    assertWarns = _polyfill("assertWarns")
    assertWarnsRegex = _polyfill("assertWarnsRegex")
    assertLogs = _polyfill("assertLogs")
    assertNoLogs = _polyfill("assertNoLogs")
    assertAlmostEqual = _polyfill("assertAlmostEqual")
    assertNotAlmostEqual = _polyfill("assertNotAlmostEqual")
    assertGreater = _polyfill("assertGreater")
    assertGreaterEqual = _polyfill("assertGreaterEqual")
    assertLess = _polyfill("assertLess")
    assertLessEqual = _polyfill("assertLessEqual")
    assertRegex = _polyfill("assertRegex")
    assertNotRegex = _polyfill("assertNotRegex")
    assertCountEqual = _polyfill("assertCountEqual")
    assertMultiLineEqual = _polyfill("assertMultiLineEqual")
    assertSequenceEqual = _polyfill("assertSequenceEqual")
    assertListEqual = _polyfill("assertListEqual")
    assertTupleEqual = _polyfill("assertTupleEqual")
    assertSetEqual = _polyfill("assertSetEqual")
    assertDictEqual = _polyfill("assertDictEqual")


# pytest collects only classes named Test*, so PySOA's ServerTestCase is the pytest flavour.
ServerTestCase = PyTestServerTestCase
