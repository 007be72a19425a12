"""``PyTestServerTestCase``'s unittest-style API as PySOA offered it: old aliases, context objects, PySOA's checks."""

# The unittest-style assertions are what these tests exercise.
# ruff: noqa: PT009, PT027

from __future__ import annotations

import warnings

import pytest

from pysoa.test.server import PyTestServerTestCase, RaisesContext, UnitTestServerTestCase, WarnsContext

# Every deprecated name PySOA 1.4's PyTestServerTestCase kept, the method it stands for, and a passing call.
ALIASES = [
    ("assertEquals", "assertEqual", (1, 1)),
    ("failUnlessEqual", "assertEqual", ("a", "a")),
    ("assertNotEquals", "assertNotEqual", (1, 2)),
    ("failIfEqual", "assertNotEqual", (1, 2)),
    ("assertAlmostEquals", "assertAlmostEqual", (1.0, 1.00000001)),
    ("failUnlessAlmostEqual", "assertAlmostEqual", (1.0, 1.00000001)),
    ("assertNotAlmostEquals", "assertNotAlmostEqual", (1.0, 1.1)),
    ("failIfAlmostEqual", "assertNotAlmostEqual", (1.0, 1.1)),
    ("failUnless", "assertTrue", (True,)),
    ("assert_", "assertTrue", (1,)),
    ("failIf", "assertFalse", (0,)),
    ("assertRegexpMatches", "assertRegex", ("abc", "b")),
    ("assertNotRegexpMatches", "assertNotRegex", ("abc", "z")),
    ("assertItemsEqual", "assertCountEqual", ([1, 2, 2], [2, 1, 2])),
]

# The same names, with arguments that fail.
FAILING = [
    ("assertEquals", (1, 2)),
    ("failUnlessEqual", (1, 2)),
    ("assertNotEquals", (1, 1)),
    ("failIfEqual", (1, 1)),
    ("assertAlmostEquals", (1.0, 1.1)),
    ("failUnlessAlmostEqual", (1.0, 1.1)),
    ("assertNotAlmostEquals", (1.0, 1.00000001)),
    ("failIfAlmostEqual", (1.0, 1.00000001)),
    ("failUnless", (False,)),
    ("assert_", (0,)),
    ("failIf", (1,)),
    ("assertRegexpMatches", ("abc", "z")),
    ("assertNotRegexpMatches", ("abc", "b")),
    ("assertItemsEqual", ([1, 2], [1, 1, 2])),
]


def case() -> PyTestServerTestCase:
    return PyTestServerTestCase()


@pytest.mark.parametrize(("alias", "name", "args"), ALIASES)
def test_deprecated_aliases_pass_and_warn(alias: str, name: str, args: tuple[object, ...]) -> None:
    with pytest.warns(DeprecationWarning, match=f"{alias} is deprecated; use {name}") as recorded:
        getattr(case(), alias)(*args)
    assert recorded[0].filename == __file__  # the warning points at the caller


@pytest.mark.parametrize(("alias", "name", "args"), ALIASES)
def test_the_unittest_flavour_has_the_aliases_on_every_python(alias: str, name: str, args: tuple[object, ...]) -> None:
    # Python 3.12 removed most of them from unittest.TestCase; PySOA-era suites still call them.
    unittest_case = UnitTestServerTestCase("run")
    with pytest.warns(DeprecationWarning, match=f"{alias} is deprecated; use {name}"):
        getattr(unittest_case, alias)(*args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(AssertionError):
            getattr(unittest_case, alias)(*dict(FAILING)[alias])


@pytest.mark.parametrize(("alias", "args"), FAILING)
def test_deprecated_aliases_fail_like_the_method(alias: str, args: tuple[object, ...]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(AssertionError):
            getattr(case(), alias)(*args)


def test_deprecated_raises_aliases() -> None:
    with pytest.warns(DeprecationWarning, match="failUnlessRaises"):
        case().failUnlessRaises(KeyError, {}.__getitem__, "missing")
    with pytest.warns(DeprecationWarning, match="assertRaisesRegexp"):
        context: RaisesContext = case().assertRaisesRegexp(ValueError, "bad")
    with context:
        raise ValueError("bad input")
    assert str(context.exception) == "bad input"


def test_assert_raises_context_offers_exception_and_value() -> None:
    with case().assertRaises(KeyError) as context:
        dict[str, int]()["missing"]
    assert isinstance(context, RaisesContext)
    assert isinstance(context.exception, KeyError)
    assert context.value is context.exception
    assert context.type is KeyError  # and the rest of pytest's ExceptionInfo
    assert context.match("missing")
    with case().assertRaises(ValueError, match=r"^bad \d$") as matched:
        raise ValueError("bad 1")
    assert matched.value.args == ("bad 1",)


def test_assert_raises_fails_when_nothing_or_something_else_is_raised() -> None:
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"), case().assertRaises(KeyError):
        pass
    with pytest.raises(TypeError), case().assertRaises(KeyError):
        raise TypeError("not the expected one")
    with pytest.raises(AssertionError, match="Regex pattern did not match"):
        case().assertRaisesRegex(ValueError, "good", int, "x")
    assert case().assertRaises(ValueError, int, "x") is None  # the callable form returns nothing


def test_assert_warns_context_offers_warnings_and_list() -> None:
    with case().assertWarns(UserWarning) as context:
        warnings.warn("first", UserWarning, stacklevel=1)
        warnings.warn("second", UserWarning, stacklevel=1)
    assert isinstance(context, WarnsContext)
    assert [str(w.message) for w in context.warnings] == ["first", "second"]
    assert context.list == context.warnings
    assert len(context) == 2
    assert str(context[1].message) == "second"
    assert str(context.warning) == "first"
    assert context.filename == __file__
    assert context.lineno > 0
    assert str(context.pop(UserWarning).message) == "first"
    assert [str(w.message) for w in context] == ["second"]


def test_assert_warns_regex_and_the_callable_form() -> None:
    with case().assertWarnsRegex(DeprecationWarning, "old") as context:
        warnings.warn("too old", DeprecationWarning, stacklevel=1)
    assert str(context.warning) == "too old"
    assert case().assertWarns(UserWarning, warnings.warn, "x", UserWarning) is None
    with pytest.raises(pytest.fail.Exception, match="DID NOT WARN"):
        case().assertWarns(UserWarning, lambda: None)


def test_places_and_delta_together_fail_the_test() -> None:
    with pytest.raises(AssertionError, match="Specify delta or places, but not both"):
        case().assertAlmostEqual(1.0, 1.5, places=2, delta=1)
    with pytest.raises(AssertionError, match="Specify delta or places, but not both"):
        case().assertNotAlmostEqual(1.0, 1.5, places=2, delta=1)
    case().assertAlmostEqual(1.0, 1.0, places=2, delta=1)  # equal values pass before the check, as in PySOA
    case().assertAlmostEqual(1.0, 1.4, delta=0.5)
    case().assertAlmostEqual(1.0, 1.004, places=2)
    with pytest.raises(AssertionError, match=r"within 0\.1 delta"):
        case().assertAlmostEqual(1.0, 1.4, delta=0.1)


def test_sequence_set_and_dict_types_are_checked() -> None:
    c = case()
    c.assertListEqual([1], [1])
    c.assertTupleEqual((1,), (1,))
    c.assertSequenceEqual([1], (1,))
    for method, first, second in [
        (c.assertListEqual, (1,), (1,)),
        (c.assertTupleEqual, [1], [1]),
        (c.assertSetEqual, [1], [1]),
        (c.assertDictEqual, [("a", 1)], {"a": 1}),
        (c.assertMultiLineEqual, b"a", "a"),
    ]:
        with pytest.raises(AssertionError):
            method(first, second)
    with pytest.raises(AssertionError):
        c.assertSequenceEqual([1], [1], seq_type=tuple)


@pytest.mark.parametrize("method", ["assertRegex", "assertNotRegex"])
def test_a_missing_or_empty_regex_fails_the_test(method: str) -> None:
    with pytest.raises(AssertionError, match="Regex must not be None"):
        getattr(case(), method)("text", None)
    with pytest.raises(AssertionError, match="Regex must not be empty"):
        getattr(case(), method)("text", "")
    with pytest.raises(AssertionError, match="Regex must not be empty"):
        case().assertRaisesRegex(ValueError, "")
