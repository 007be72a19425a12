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

import builtins
import unittest
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, overload
from warnings import WarningMessage

from pysoa.client.client import Client
from pysoa.common.types import Error
from pysoa.errors import CallActionError
from pysoa.server.server import Server
from pysoa.test._support import default_server_settings, error_mismatch_message, local_client_settings

__all__ = [
    "BaseServerTestCase",
    "PyTestServerTestCase",
    "RaisesContext",
    "ServerTestCase",
    "UnitTestServerTestCase",
    "WarnsContext",
]


def _deprecated_alias(alias: str, name: str) -> Callable[..., Any]:
    """An old unittest name PySOA kept (with a DeprecationWarning) for the method ``name``."""

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"{alias} is deprecated; use {name}", DeprecationWarning, stacklevel=2)
        return getattr(self, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = alias
    method.__doc__ = f"Deprecated alias of :meth:`{name}`."
    return method


class _DeprecatedAliases:
    """The old unittest names PySOA's test cases offered; each warns, then calls the current method.

    Python 3.12 removed most of them from :class:`unittest.TestCase`, so both test case flavours
    carry them here.
    """

    assertEquals = _deprecated_alias("assertEquals", "assertEqual")
    failUnlessEqual = _deprecated_alias("failUnlessEqual", "assertEqual")
    assertNotEquals = _deprecated_alias("assertNotEquals", "assertNotEqual")
    failIfEqual = _deprecated_alias("failIfEqual", "assertNotEqual")
    assertAlmostEquals = _deprecated_alias("assertAlmostEquals", "assertAlmostEqual")
    failUnlessAlmostEqual = _deprecated_alias("failUnlessAlmostEqual", "assertAlmostEqual")
    assertNotAlmostEquals = _deprecated_alias("assertNotAlmostEquals", "assertNotAlmostEqual")
    failIfAlmostEqual = _deprecated_alias("failIfAlmostEqual", "assertNotAlmostEqual")
    failUnless = _deprecated_alias("failUnless", "assertTrue")
    assert_ = _deprecated_alias("assert_", "assertTrue")
    failIf = _deprecated_alias("failIf", "assertFalse")
    assertRegexpMatches = _deprecated_alias("assertRegexpMatches", "assertRegex")
    assertNotRegexpMatches = _deprecated_alias("assertNotRegexpMatches", "assertNotRegex")
    failUnlessRaises = _deprecated_alias("failUnlessRaises", "assertRaises")
    assertRaisesRegexp = _deprecated_alias("assertRaisesRegexp", "assertRaisesRegex")
    # Python 2's name of assertCountEqual (not in PySOA 1.4, but suites that came through it use it).
    assertItemsEqual = _deprecated_alias("assertItemsEqual", "assertCountEqual")


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


class UnitTestServerTestCase(_DeprecatedAliases, unittest.TestCase, BaseServerTestCase):
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


class RaisesContext:
    """What ``with self.assertRaises(...) as context`` gives: pytest's ``ExceptionInfo`` and unittest's names.

    ``context.value`` and ``context.exception`` are the exception raised; every other attribute of
    :class:`pytest.ExceptionInfo` (``type``, ``tb``, ``match()``, ...) is there too.
    """

    def __init__(self, raises: Any) -> None:
        self._raises = raises
        self._info: Any = None

    def __enter__(self) -> RaisesContext:
        self._info = self._raises.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> bool:
        return bool(self._raises.__exit__(*exc_info))

    @property
    def exception(self) -> BaseException:
        return self.value

    @property
    def value(self) -> BaseException:
        value: BaseException = self._info.value
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._info, name)


class WarnsContext:
    """What ``with self.assertWarns(...) as context`` gives: pytest's recorder and unittest's names.

    ``context.list`` and ``context.warnings`` are every warning recorded (``warnings.WarningMessage``);
    ``context.warning``, ``context.filename`` and ``context.lineno`` describe the first one of the
    expected category, as in unittest; ``pop``, ``len()``, indexing and iteration are pytest's.
    """

    def __init__(self, checker: Any, expected: type[Warning] | tuple[type[Warning], ...]) -> None:
        self._checker = checker
        self._expected = expected

    def __enter__(self) -> WarnsContext:
        self._checker.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._checker.__exit__(*exc_info)

    @property
    def list(self) -> builtins.list[WarningMessage]:
        recorded: builtins.list[WarningMessage] = self._checker.list
        return recorded

    @property
    def warnings(self) -> builtins.list[WarningMessage]:
        return self.list

    def _first_expected(self) -> WarningMessage:
        for message in self.list:
            if issubclass(message.category, self._expected):
                return message
        raise AttributeError("No warning of the expected category was recorded")

    @property
    def warning(self) -> Warning | str:
        message: Warning | str = self._first_expected().message
        return message

    @property
    def filename(self) -> str:
        return str(self._first_expected().filename)

    @property
    def lineno(self) -> int:
        return int(self._first_expected().lineno)

    def __len__(self) -> int:
        return len(self.list)

    def __getitem__(self, index: int) -> WarningMessage:
        return self.list[index]

    def __iter__(self) -> Iterator[WarningMessage]:
        return iter(self.list)

    def pop(self, cls: type[Warning] = Warning) -> WarningMessage:
        """Remove and return the first recorded warning of category ``cls`` (pytest's ``pop``)."""
        popped: WarningMessage = self._checker.pop(cls)
        return popped


class PyTestServerTestCase(_DeprecatedAliases, BaseServerTestCase):
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

    # --- PySOA's own checks on top of unittest's ------------------------------------------------------

    def assertAlmostEqual(
        self, first: Any, second: Any, places: int | None = None, msg: Any = None, delta: Any = None
    ) -> None:
        """unittest's check; giving both ``places`` and ``delta`` fails the test, as in PySOA."""
        if first != second and places is not None and delta is not None:
            raise self._failure("Specify delta or places, but not both")
        self._unittest_asserter().assertAlmostEqual(first, second, places, msg, delta)  # noqa: PT009

    def assertNotAlmostEqual(
        self, first: Any, second: Any, places: int | None = None, msg: Any = None, delta: Any = None
    ) -> None:
        """unittest's check; giving both ``places`` and ``delta`` fails the test, as in PySOA."""
        if places is not None and delta is not None:
            raise self._failure("Specify delta or places, but not both")
        self._unittest_asserter().assertNotAlmostEqual(first, second, places, msg, delta)  # noqa: PT009

    def _check_regex(self, regex: Any) -> None:
        if regex is None:
            raise self._failure("Regex must not be None")
        if isinstance(regex, (str, bytes)) and not regex:
            raise self._failure("Regex must not be empty")

    def assertRegex(self, text: Any, expected_regex: Any, msg: Any = None) -> None:
        """unittest's check; a ``None`` or empty regex fails the test, as in PySOA."""
        self._check_regex(expected_regex)
        self._unittest_asserter().assertRegex(text, expected_regex, msg)  # noqa: PT009

    def assertNotRegex(self, text: Any, unexpected_regex: Any, msg: Any = None) -> None:
        """unittest's check; a ``None`` or empty regex fails the test, as in PySOA."""
        self._check_regex(unexpected_regex)
        self._unittest_asserter().assertNotRegex(text, unexpected_regex, msg)  # noqa: PT009

    @overload
    def assertRaises(
        self,
        expected_exception: type[BaseException] | tuple[type[BaseException], ...],
        callable: None = None,
        **kwargs: Any,
    ) -> RaisesContext: ...

    @overload
    def assertRaises(
        self,
        expected_exception: type[BaseException] | tuple[type[BaseException], ...],
        callable: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> None: ...

    def assertRaises(
        self,
        expected_exception: type[BaseException] | tuple[type[BaseException], ...],
        callable: Callable[..., Any] | None = None,  # noqa: A002 - unittest's parameter name
        *args: Any,
        **kwargs: Any,
    ) -> RaisesContext | None:
        """Call ``callable(*args, **kwargs)`` expecting ``expected_exception``; without it, a context manager.

        The context manager takes pytest.raises' keyword arguments (``match``) and gives a
        :class:`RaisesContext` (``.exception`` and ``.value``).
        """
        import pytest

        if callable is not None:
            with pytest.raises(expected_exception):
                callable(*args, **kwargs)
            return None
        return RaisesContext(pytest.raises(expected_exception, **kwargs))

    @overload
    def assertRaisesRegex(
        self,
        expected_exception: type[BaseException] | tuple[type[BaseException], ...],
        expected_regex: Any,
        callable: None = None,
        **kwargs: Any,
    ) -> RaisesContext: ...

    @overload
    def assertRaisesRegex(
        self,
        expected_exception: type[BaseException] | tuple[type[BaseException], ...],
        expected_regex: Any,
        callable: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> None: ...

    def assertRaisesRegex(
        self,
        expected_exception: type[BaseException] | tuple[type[BaseException], ...],
        expected_regex: Any,
        callable: Callable[..., Any] | None = None,  # noqa: A002 - unittest's parameter name
        *args: Any,
        **kwargs: Any,
    ) -> RaisesContext | None:
        """:meth:`assertRaises`, and the exception's text must match ``expected_regex`` (``re.search``)."""
        import pytest

        self._check_regex(expected_regex)
        if callable is not None:
            with pytest.raises(expected_exception, match=expected_regex):
                callable(*args, **kwargs)
            return None
        return RaisesContext(pytest.raises(expected_exception, match=expected_regex, **kwargs))

    @overload
    def assertWarns(
        self, expected_warning: type[Warning] | tuple[type[Warning], ...], callable: None = None, **kwargs: Any
    ) -> WarnsContext: ...

    @overload
    def assertWarns(
        self,
        expected_warning: type[Warning] | tuple[type[Warning], ...],
        callable: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> None: ...

    def assertWarns(
        self,
        expected_warning: type[Warning] | tuple[type[Warning], ...],
        callable: Callable[..., Any] | None = None,  # noqa: A002 - unittest's parameter name
        *args: Any,
        **kwargs: Any,
    ) -> WarnsContext | None:
        """Call ``callable(*args, **kwargs)`` expecting ``expected_warning``; without it, a context manager.

        The context manager takes pytest.warns' keyword arguments (``match``) and gives a
        :class:`WarnsContext` (``.warnings`` and ``.list``).
        """
        import pytest

        if callable is not None:
            with pytest.warns(expected_warning):
                callable(*args, **kwargs)
            return None
        return WarnsContext(pytest.warns(expected_warning, **kwargs), expected_warning)

    @overload
    def assertWarnsRegex(
        self,
        expected_warning: type[Warning] | tuple[type[Warning], ...],
        expected_regex: Any,
        callable: None = None,
        **kwargs: Any,
    ) -> WarnsContext: ...

    @overload
    def assertWarnsRegex(
        self,
        expected_warning: type[Warning] | tuple[type[Warning], ...],
        expected_regex: Any,
        callable: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> None: ...

    def assertWarnsRegex(
        self,
        expected_warning: type[Warning] | tuple[type[Warning], ...],
        expected_regex: Any,
        callable: Callable[..., Any] | None = None,  # noqa: A002 - unittest's parameter name
        *args: Any,
        **kwargs: Any,
    ) -> WarnsContext | None:
        """:meth:`assertWarns`, and the warning's text must match ``expected_regex`` (``re.search``)."""
        import pytest

        self._check_regex(expected_regex)
        if callable is not None:
            with pytest.warns(expected_warning, match=expected_regex):
                callable(*args, **kwargs)
            return None
        return WarnsContext(pytest.warns(expected_warning, match=expected_regex, **kwargs), expected_warning)

    # --- the rest of unittest's assertion methods, as they are ---------------------------------------

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
    assertLogs = _polyfill("assertLogs")
    assertNoLogs = _polyfill("assertNoLogs")
    assertGreater = _polyfill("assertGreater")
    assertGreaterEqual = _polyfill("assertGreaterEqual")
    assertLess = _polyfill("assertLess")
    assertLessEqual = _polyfill("assertLessEqual")
    assertCountEqual = _polyfill("assertCountEqual")
    assertMultiLineEqual = _polyfill("assertMultiLineEqual")
    assertSequenceEqual = _polyfill("assertSequenceEqual")
    assertListEqual = _polyfill("assertListEqual")
    assertTupleEqual = _polyfill("assertTupleEqual")
    assertSetEqual = _polyfill("assertSetEqual")
    assertDictEqual = _polyfill("assertDictEqual")


# pytest collects only classes named Test*, so PySOA's ServerTestCase is the pytest flavour.
ServerTestCase = PyTestServerTestCase
