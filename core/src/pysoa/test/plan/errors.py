"""Errors of the test-plan system; each names the fixture file and line it is about."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "DataTypeConversionError",
    "DirectiveError",
    "FixtureLoadError",
    "FixtureSyntaxError",
    "PlanExpectationError",
    "StatusError",
]


class FixtureLoadError(Exception):
    """A fixture file (or the fixture directory) cannot be found or read."""


class FixtureSyntaxError(SyntaxError):
    """A fixture file does not follow the test-plan language; ``str()`` names the file and line."""

    def __init__(self, message: str, file_name: str, line_number: int, line_text: str, column: int = 0) -> None:
        # SyntaxError's own fields, so that tools showing syntax errors show this one well too.
        super().__init__(message, (file_name, line_number, column or None, line_text, None, None))
        self.file_name = file_name
        self.line_number = line_number
        self.line_text = line_text
        self.column = column

    def __str__(self) -> str:
        text = f"{self.file_name}:{self.line_number}: {self.msg}\n    {self.line_text}"
        if self.column:
            text += "\n    " + " " * (self.column - 1) + "^"
        return text


class DataTypeConversionError(ValueError):
    """A directive's value cannot be read as the data type the directive names."""


class DirectiveError(Exception):
    """A directive cannot be carried out (an unknown mock target, an exception name that names nothing, ...)."""


class StatusError(Exception):
    """A test case cannot run because something before it failed (its fixture's set-up)."""


class PlanExpectationError(AssertionError):
    """Expectations of a test case were not met: one entry per failed directive, each naming its line.

    ``str()`` reads, for example::

        tests/fixtures/users.pysoa:14: get_user.0 (test case get_user_works)
          line 16: get_user: expect: attribute value: user.name: Alice
            expected 'Alice' at user.name, got 'Bob'
    """

    def __init__(self, file_name: str, line_number: int, where: str, failures: Sequence[tuple[int, str, str]]) -> None:
        self.file_name = file_name
        self.line_number = line_number
        self.where = where
        self.failures = list(failures)
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [f"{self.file_name}:{self.line_number}: {self.where}"]
        for line_number, source, problem in self.failures:
            lines.append(f"  line {line_number}: {source.strip()}")
            lines.extend("    " + part for part in problem.splitlines())
        return "\n".join(lines)
