"""What a parsed fixture holds: test cases, their action cases and one record per directive line.

Every directive record carries the fixture line it came from (``line``, 1-based, and ``source``,
the line's text) so that a failure can point at it. Values stay as written (``raw``) until the test
case runs: they may hold ``[[...]]`` substitutions of earlier responses, and ``now``/``today``
must be read when the action runs (possibly under ``freeze time``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ActionCase",
    "Directive",
    "ExpectError",
    "ExpectNoErrors",
    "ExpectValue",
    "FreezeTime",
    "Input",
    "MockCalled",
    "MockResult",
    "StubBody",
    "StubCalled",
    "StubDirective",
    "StubError",
    "TestCase",
    "TestFixture",
]


@dataclass(frozen=True)
class _Located:
    line: int
    source: str


@dataclass(frozen=True)
class Input(_Located):
    """``input``: put a value at ``path`` of the action body, or of the job's context or control."""

    slot: Literal["body", "context", "control"]
    path: str
    data_type: str
    raw: str | None


@dataclass(frozen=True)
class ExpectNoErrors(_Located):
    """``expect: no errors``: neither the action nor the job has errors."""


@dataclass(frozen=True)
class ExpectError(_Located):
    """``expect: [not] [exact] [job] error: code=… [, field=…] [, message=…]``.

    ``field`` and ``message`` are None when the directive does not name them (any value matches).
    """

    negate: bool
    exact: bool
    job: bool
    code: str
    field: str | None
    message: str | None


@dataclass(frozen=True)
class ExpectValue(_Located):
    """The ``attribute value`` expectations on the response body at ``path``.

    ``equal`` / ``not_equal`` compare with the typed ``raw`` value; ``any`` wants a value of
    ``data_type``; ``none`` wants None; ``not_present`` wants the key absent.
    """

    kind: Literal["equal", "not_equal", "any", "none", "not_present"]
    path: str
    data_type: str
    raw: str | None


@dataclass(frozen=True)
class MockResult(_Located):
    """``mock: target: path: value`` (``value`` is the parsed JSON), ``exception NAME`` or ``delete``."""

    target: str
    path: str
    instruction: Literal["value", "exception", "delete"]
    value: Any


@dataclass(frozen=True)
class MockCalled(_Located):
    """``mock: target: expect [not] called [path]: [[args], {kwargs}]``."""

    target: str
    path: str | None
    negate: bool
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class StubBody(_Located):
    """``stub action: service: action: body [type]: path: value``: part of the stub's response body."""

    service: str
    action: str
    path: str
    data_type: str
    raw: str | None


@dataclass(frozen=True)
class StubError(_Located):
    """``stub action: service: action: error: code=…, field=…, message=…`` (``field=none``: no field)."""

    service: str
    action: str
    code: str
    field: str | None
    message: str


@dataclass(frozen=True)
class StubCalled(_Located):
    """``stub action: service: action: expect [not] called[: [type]: path: value]``.

    The ``path: value`` lines of one stub build the one request body it must have been called with
    (an empty body when there are none).
    """

    service: str
    action: str
    negate: bool
    path: str | None
    data_type: str
    raw: str | None


@dataclass(frozen=True)
class FreezeTime(_Located):
    """``freeze time: now`` or an ISO 8601 date and time: freezegun's clock around the test case or action case."""

    raw: str


StubDirective = StubBody | StubError | StubCalled
Directive = Input | ExpectNoErrors | ExpectError | ExpectValue | MockResult | MockCalled | StubDirective | FreezeTime


@dataclass
class ActionCase:
    """One call of ``name`` (the ``index``-th of the test case) and its directives, global ones first."""

    name: str
    index: int
    line: int
    directives: list[Directive] = field(default_factory=list)

    @property
    def key(self) -> str:
        """``name.index``, as fixtures write it."""
        return f"{self.name}.{self.index}"


@dataclass
class TestCase:
    """A test case: its name, description, test-level directives and action cases in the order written.

    ``test_case['name']`` (and the other attribute names) reads like PySOA's test-case dicts did.
    """

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    description: str
    fixture_name: str
    fixture_file: str
    line: int
    skip: str | None = None
    directives: list[Directive] = field(default_factory=list)
    actions: list[ActionCase] = field(default_factory=list)

    @property
    def line_number(self) -> int:
        return self.line

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


@dataclass
class TestFixture:
    """A parsed ``.pysoa`` file: its name (the file name without ``.pysoa``) and its test cases."""

    __test__ = False

    name: str
    file: str
    test_cases: list[TestCase] = field(default_factory=list)
