"""The directives that wrap a test case or an action case: ``freeze time``, ``stub action`` and ``mock``.

:func:`enter_scope` starts them on an :class:`~contextlib.ExitStack` (so they stop when the test
case or action case ends, in reverse order) and returns a function that checks their ``expect
called`` directives while they are still active.
"""

from __future__ import annotations

import builtins
import importlib
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any
from unittest import mock

import freezegun

from pysoa.common.types import Error
from pysoa.test.plan._expectations import Failure
from pysoa.test.plan._model import Directive, FreezeTime, MockCalled, MockResult, StubBody, StubCalled, StubError
from pysoa.test.plan._values import freeze_target, put_path
from pysoa.test.stub_service import stub_action

__all__ = ["AttrDict", "enter_scope"]

ValueOf = Callable[[str, str | None, Any], Any]  # (data type, raw text, directive) -> value


class AttrDict(dict[str, Any]):
    """A dict whose keys also read as attributes: what a mock returns for a JSON object."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _attr_dicts(value: Any) -> Any:
    if isinstance(value, dict):
        return AttrDict({key: _attr_dicts(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_attr_dicts(item) for item in value]
    return value


def enter_scope(
    stack: ExitStack, directives: Sequence[Directive], value_of: ValueOf, locate: Callable[[Directive, str], Exception]
) -> Callable[[], list[Failure]]:
    """Start the scope's freeze, stubs and mocks on ``stack``; return the check of their expectations."""
    freezes = [d for d in directives if isinstance(d, FreezeTime)]
    if freezes:
        frozen = freezes[-1]  # the last one written wins, as a later line overrides an earlier one
        stack.enter_context(freezegun.freeze_time(freeze_target(frozen.raw)))
    checks = [_start_stubs(stack, directives, value_of), _start_mocks(stack, directives, locate)]

    def check() -> list[Failure]:
        return [failure for each in checks for failure in each()]

    return check


def _start_stubs(stack: ExitStack, directives: Sequence[Directive], value_of: ValueOf) -> Callable[[], list[Failure]]:
    grouped: dict[tuple[str, str], list[StubBody | StubError | StubCalled]] = {}
    for directive in directives:
        if isinstance(directive, StubBody | StubError | StubCalled):
            grouped.setdefault((directive.service, directive.action), []).append(directive)
    checks: list[Callable[[], list[Failure]]] = []
    for (service, action), stub_directives in grouped.items():
        body: dict[str, Any] = {}
        errors: list[Error] = []
        expected_body: dict[str, Any] = {}
        called: list[StubCalled] = []
        for directive in stub_directives:
            if isinstance(directive, StubBody):
                put_path(body, directive.path, value_of(directive.data_type, directive.raw, directive))
            elif isinstance(directive, StubError):
                errors.append(Error(code=directive.code, message=directive.message, field=directive.field))
            else:
                called.append(directive)
                if directive.path is not None:
                    put_path(expected_body, directive.path, value_of(directive.data_type, directive.raw, directive))
        stub_mock = stack.enter_context(stub_action(service, action, body=body, errors=errors or None))
        if called:
            checks.append(_stub_check(f"{service}.{action}", stub_mock, called, expected_body))

    def check() -> list[Failure]:
        return [failure for each in checks for failure in each()]

    return check


def _stub_check(
    name: str, stub_mock: mock.MagicMock, called: list[StubCalled], expected_body: dict[str, Any]
) -> Callable[[], list[Failure]]:
    last = called[-1]

    def check() -> list[Failure]:
        bodies = [call.args[0] for call in stub_mock.call_args_list]
        if last.negate:
            if bodies:
                return [(last.line, last.source, f"expected no call of {name}; it was called with {bodies!r}")]
            return []
        if expected_body in bodies:
            return []
        if not bodies:
            return [(last.line, last.source, f"expected a call of {name} with {expected_body!r}; it was not called")]
        return [
            (last.line, last.source, f"expected a call of {name} with {expected_body!r}; it was called with {bodies!r}")
        ]

    return check


def _exception(directive: MockResult, locate: Callable[[Directive, str], Exception]) -> type[BaseException]:
    name = str(directive.value)
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise locate(directive, f"cannot find the exception {name!r}: {exc}") from None
    else:
        found = getattr(builtins, name, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise locate(directive, f"{name!r} is not an exception class")
    return found


def _walk(root: Any, path: str | None) -> tuple[Any, str | None]:
    """The object holding the last attribute of ``path`` on ``root``, and that attribute's name."""
    if not path:
        return root, None
    *parents, last = path.split(".")
    target = root
    for name in parents:
        target = getattr(target, name)
    return target, last


def _start_mocks(
    stack: ExitStack, directives: Sequence[Directive], locate: Callable[[Directive, str], Exception]
) -> Callable[[], list[Failure]]:
    mocks: dict[str, mock.MagicMock] = {}
    side_effects: dict[tuple[str, str], list[Any]] = {}
    for directive in directives:
        if not isinstance(directive, MockResult | MockCalled):
            continue
        root = mocks.setdefault(directive.target, mock.MagicMock(name=directive.target))
        if not isinstance(directive, MockResult):
            continue
        parent, attribute = _walk(root, directive.path)
        assert attribute is not None  # the grammar requires a path for results
        if directive.instruction == "delete":
            delattr(parent, attribute)
            continue
        value = _exception(directive, locate) if directive.instruction == "exception" else _attr_dicts(directive.value)
        if attribute == "side_effect":
            # Several side_effect lines are the values (or exceptions) of successive calls.
            effects = side_effects.setdefault((directive.target, directive.path), [])
            effects.append(value)
            lone_exception = len(effects) == 1 and directive.instruction == "exception"
            setattr(parent, attribute, value if lone_exception else list(effects))
        else:
            setattr(parent, attribute, value)
    for target, root in mocks.items():
        first = next(d for d in directives if isinstance(d, MockResult | MockCalled) and d.target == target)
        try:
            stack.enter_context(mock.patch(target, new=root))
        except (ImportError, AttributeError, TypeError, ValueError) as exc:
            raise locate(first, f"cannot mock {target!r}: {exc}") from None
    expected: dict[tuple[str, str | None], list[MockCalled]] = {}
    for directive in directives:
        if isinstance(directive, MockCalled):
            expected.setdefault((directive.target, directive.path), []).append(directive)

    def check() -> list[Failure]:
        failures: list[Failure] = []
        for (target, path), called in expected.items():
            parent, attribute = _walk(mocks[target], path)
            called_mock = getattr(parent, attribute) if attribute else parent
            where = target + (f".{path}" if path else "")
            last = called[-1]
            calls = called_mock.call_args_list
            if any(d.negate for d in called):
                if calls:
                    failures.append((last.line, last.source, f"expected no call of {where}; got {calls!r}"))
                continue
            wanted = [mock.call(*d.args, **d.kwargs) for d in called]
            if calls != wanted:
                failures.append((last.line, last.source, f"expected the calls {wanted!r} of {where}; got {calls!r}"))
        return failures

    return check
