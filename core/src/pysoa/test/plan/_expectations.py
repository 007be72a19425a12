"""Checks an action case's response against its ``expect`` directives.

Each failed directive gives one ``(line, source, problem)`` entry; the caller reports them all at
once, so that one run shows every expectation of the action case that was not met.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pysoa.common.types import ActionResponse, Error, JobResponse
from pysoa.test.plan._model import Directive, ExpectError, ExpectNoErrors, ExpectValue
from pysoa.test.plan._values import MISSING, AnyValue, RegexValue, get_path

__all__ = ["Failure", "check_action_response", "describe_errors"]

Failure = tuple[int, str, str]


def describe_errors(errors: Sequence[Error]) -> str:
    if not errors:
        return "there were no errors"
    described = []
    for error in errors:
        text = f"code={error.code}"
        if error.field is not None:
            text += f", field={error.field}"
        text += f", message={error.message}"
        if error.code == "SERVER_ERROR" and error.traceback:
            # The service's own traceback is what explains an unexpected server error.
            text += "\n    " + "\n    ".join(error.traceback.rstrip().splitlines())
        described.append(text)
    return "the errors were:\n  " + "\n  ".join(described)


def _matches(expected: ExpectError, error: Error) -> bool:
    return (
        error.code == expected.code
        and (expected.field is None or error.field == expected.field)
        and (expected.message is None or error.message == expected.message)
    )


def _describe_expected(expected: ExpectError) -> str:
    text = f"code={expected.code}"
    if expected.field is not None:
        text += f", field={expected.field}"
    if expected.message is not None:
        text += f", message={expected.message}"
    return text


def _check_errors(directives: Sequence[ExpectError], job: JobResponse, action: ActionResponse | None) -> list[Failure]:
    failures: list[Failure] = []
    for in_job in (False, True):
        errors = job.errors if in_job else (action.errors if action is not None else [])
        where = "job errors" if in_job else "action errors"
        scoped = [d for d in directives if d.job == in_job]
        for expected in scoped:
            found = any(_matches(expected, error) for error in errors)
            if expected.negate and found:
                failures.append(
                    (
                        expected.line,
                        expected.source,
                        f"expected no {where[:-1]} {_describe_expected(expected)}; {describe_errors(errors)}",
                    )
                )
            elif not expected.negate and not found:
                failures.append(
                    (
                        expected.line,
                        expected.source,
                        f"expected the {where[:-1]} {_describe_expected(expected)}; {describe_errors(errors)}",
                    )
                )
        exact = [d for d in scoped if d.exact and not d.negate]
        if exact:
            unexpected = [error for error in errors if not any(_matches(d, error) for d in exact)]
            if unexpected:
                last = exact[-1]
                failures.append(
                    (
                        last.line,
                        last.source,
                        f"'exact' {where} do not allow other errors, but there were:\n  "
                        + "\n  ".join(_describe_expected_error(e) for e in unexpected),
                    )
                )
    return failures


def _describe_expected_error(error: Error) -> str:
    return f"code={error.code}, field={error.field}, message={error.message}"


def _check_value(expected: ExpectValue, body: Any, value_of: Callable[[ExpectValue], Any]) -> str | None:
    actual = get_path(body, expected.path)
    present = actual is not MISSING
    shown = repr(actual) if present else f"no {expected.path}"
    if expected.kind == "not_present":
        return None if not present else f"expected no {expected.path}, but it is there: {actual!r}"
    if expected.kind == "none":
        return None if present and actual is None else f"expected None at {expected.path}, got {shown}"
    if expected.kind == "any":
        matcher = AnyValue(expected.data_type)
        if present and matcher.matches(actual):
            return None
        return f"expected {matcher!r} at {expected.path}, got {shown}"
    wanted = value_of(expected)
    equal = present and (wanted.matches(actual) if isinstance(wanted, RegexValue) else actual == wanted)
    if expected.kind == "not_equal":
        return None if not equal else f"expected anything but {wanted!r} at {expected.path}, got {actual!r}"
    return None if equal else f"expected {wanted!r} at {expected.path}, got {shown}"


def check_action_response(
    directives: Sequence[Directive],
    job: JobResponse,
    action: ActionResponse | None,
    value_of: Callable[[ExpectValue], Any],
) -> list[Failure]:
    """The expectations among ``directives`` that ``job`` / ``action`` do not meet."""
    failures: list[Failure] = []
    all_errors = [*job.errors, *(action.errors if action is not None else [])]
    for directive in directives:
        if isinstance(directive, ExpectNoErrors) and all_errors:
            failures.append((directive.line, directive.source, f"expected no errors; {describe_errors(all_errors)}"))
    failures.extend(_check_errors([d for d in directives if isinstance(d, ExpectError)], job, action))
    body = action.body if action is not None else {}
    for directive in directives:
        if isinstance(directive, ExpectValue):
            problem = _check_value(directive, body, value_of)
            if problem is not None:
                if all_errors:
                    problem += f"\n(the call failed; {describe_errors(all_errors)})"
                failures.append((directive.line, directive.source, problem))
    return sorted(failures)
