"""Reads ``.pysoa`` fixture files into :class:`~pysoa.test.plan._model.TestFixture` objects.

The block structure is read here, line by line: a blank line ends a test case, a line whose first
non-blank character is ``#`` is a comment, a block starting with ``test name:`` is a test case and
any other block holds ``global`` directives for the test cases after it. Each other line is parsed
with the lark grammar in ``_directive.lark``. Every problem raises
:class:`~pysoa.test.plan.errors.FixtureSyntaxError` naming the file and line.

Why lark (rather than pyparsing, which PySOA used): the grammar is one declarative file that reads
like the grammar PySOA documented; its LALR parser with a contextual lexer is deterministic and
linear (a fixture of a thousand directive lines parses in a fraction of a second); and its errors carry the column
and the set of terminals that could have come next, which is what our syntax errors show.
"""

from __future__ import annotations

import builtins
import functools
import importlib.resources
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import lark

from pysoa.test.plan._model import (
    ActionCase,
    Directive,
    ExpectError,
    ExpectNoErrors,
    ExpectValue,
    FreezeTime,
    Input,
    MockCalled,
    MockResult,
    StubBody,
    StubCalled,
    StubError,
    TestCase,
    TestFixture,
)
from pysoa.test.plan._values import convert, freeze_target, has_substitution, split_path
from pysoa.test.plan.errors import DataTypeConversionError, FixtureLoadError, FixtureSyntaxError

__all__ = ["ServiceTestPlanFixtureParser", "parse_fixture_file"]

# How the grammar's terminals read in "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "ACTION_REF": "an action name",
    "CODE": "an error code",
    "FIELD": "a field name",
    "VARIABLE": "a field path",
    "DOTTED": "a dotted name",
    "SERVICE": "a service name",
    "TEXT": "a value",
    "DATA_TYPE": "a data type",
    "JOB_SLOT": "'context' or 'control'",
    "MOCK_INSTRUCTION": "'exception' or 'delete'",
    "$END": "the end of the line",
}


_WORD = re.compile(r"\w+|\S")


@functools.cache
def _line_parser() -> lark.Lark:
    grammar = importlib.resources.files(__package__).joinpath("_directive.lark").read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=True)


def _acceptable_after(prefix: str) -> set[str]:
    """The terminals that may follow ``prefix`` (which must parse as far as it goes)."""
    interactive = _line_parser().parse_interactive(prefix)
    try:
        interactive.exhaust_lexer()
    except lark.exceptions.UnexpectedInput:
        return set()
    return set(interactive.accepts())  # type: ignore[no-untyped-call]


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    pattern = _line_parser().get_terminal(name).pattern
    if isinstance(pattern, lark.lexer.PatternStr):
        return repr(pattern.value)
    # A keyword of several words: its regular expression, read as the words.
    return repr(re.sub(r"\[ (\t|\\t)\]\+", " ", pattern.value).replace("\\b", ""))


@dataclass
class _Line:
    number: int
    text: str
    tree: lark.Tree[lark.Token]


@dataclass
class _ParsedTestCase:
    case: TestCase
    own: list[tuple[str, int, Directive]] = field(default_factory=list)  # (action, index, directive)


class ServiceTestPlanFixtureParser:
    """Parses one fixture file: ``ServiceTestPlanFixtureParser(path, name).parse_test_fixture()``."""

    def __init__(self, fixture_file_name: str, fixture_name: str) -> None:
        self.fixture_file_name = fixture_file_name
        self.fixture_name = fixture_name
        self._globals: dict[str, list[Directive]] = {}
        self._fixture_skip: str | None = None

    def parse_test_fixture(self) -> list[TestCase]:
        """The test cases of the file, in the order written."""
        return self.parse().test_cases

    def parse(self) -> TestFixture:
        try:
            with open(self.fixture_file_name, encoding="utf-8") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise FixtureLoadError(f"Cannot read the test fixture {self.fixture_file_name}: {exc}") from exc
        fixture = TestFixture(self.fixture_name, self.fixture_file_name)
        names: dict[str, int] = {}
        for block in self._blocks(text):
            test_case = self._read_block(block)
            if test_case is None:
                continue
            if test_case.name in names:
                self._fail(
                    block[0],
                    f"the test name {test_case.name!r} is already used on line {names[test_case.name]}",
                )
            names[test_case.name] = test_case.line
            fixture.test_cases.append(test_case)
        if self._fixture_skip is not None:
            for test_case in fixture.test_cases:
                test_case.skip = test_case.skip or self._fixture_skip
        return fixture

    # --- lines and blocks -------------------------------------------------------------------------

    def _fail(self, line: _Line | tuple[int, str], message: str, column: int = 0) -> NoReturn:
        number, text = (line.number, line.text) if isinstance(line, _Line) else line
        raise FixtureSyntaxError(message, self.fixture_file_name, number, text.rstrip(), column)

    def _blocks(self, text: str) -> list[list[_Line]]:
        blocks: list[list[_Line]] = []
        current: list[_Line] = []
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped:
                if current:
                    blocks.append(current)
                    current = []
                continue
            if stripped.startswith("#"):
                continue
            current.append(_Line(number, line, self._parse_line(number, line)))
        if current:
            blocks.append(current)
        return blocks

    def _parse_line(self, number: int, line: str) -> lark.Tree[lark.Token]:
        try:
            return _line_parser().parse(line.strip())
        except lark.exceptions.UnexpectedInput as exc:
            text = line.strip()
            indent = len(line) - len(line.lstrip())
            start = (exc.column - 1) if isinstance(exc.column, int) and exc.column > 0 else len(text)
            at_end = isinstance(exc, lark.exceptions.UnexpectedToken) and exc.token.type == "$END"
            if at_end or start >= len(text):
                found, start = "the end of the line", len(text)
            else:
                # The lexer can stop inside a word ("expects" after it read "expect"): show the whole word.
                word_start = start
                while word_start > 0 and (text[word_start - 1].isalnum() or text[word_start - 1] == "_"):
                    word_start -= 1
                found = repr(_WORD.match(text, word_start).group())  # type: ignore[union-attr]
                start = word_start
            expected = sorted(_describe_terminal(name) for name in _acceptable_after(text[:start]))
            column = start + 1 + indent
            message = f"invalid test plan syntax: found {found}"
            if expected:
                message += f", expected {' or '.join(expected)}"
            self._fail((number, line), message, column)

    # --- one block --------------------------------------------------------------------------------

    def _read_block(self, block: list[_Line]) -> TestCase | None:
        first = block[0].tree.children[0]
        assert isinstance(first, lark.Tree)
        if first.data != "test_name":
            for line in block:
                self._read_global(line)
            return None
        name_token = first.children[1]
        parsed = _ParsedTestCase(
            TestCase(str(name_token), "", self.fixture_name, self.fixture_file_name, block[0].number)
        )
        description_seen = False
        for line in block[1:]:
            node = line.tree.children[0]
            assert isinstance(node, lark.Tree)
            if node.data == "test_name":
                self._fail(line, "a second 'test name' in one test case: end the test case above with a blank line")
            elif node.data == "test_description":
                if description_seen:
                    self._fail(line, "a second 'test description' in one test case")
                parsed.case.description = str(node.children[1]).strip()
                description_seen = True
            elif node.data == "test_skip":
                reason = str(node.children[2]).strip()
                if node.children[1] is not None:
                    self._fixture_skip = reason
                parsed.case.skip = reason
            elif node.data == "action_line":
                action, index, is_global, directive = self._read_action_line(line, node)
                if is_global:
                    self._globals.setdefault(f"{action}.{index}", []).append(directive)
                else:
                    parsed.own.append((action, index, directive))
            else:
                parsed.case.directives.append(self._directive(line, node))
        if not description_seen:
            self._fail(block[0], f"the test case {parsed.case.name!r} has no 'test description:' line")
        if not parsed.own:
            self._fail(block[0], f"the test case {parsed.case.name!r} has no action case (lines 'action: directive')")
        self._assemble(parsed)
        return parsed.case

    def _read_global(self, line: _Line) -> None:
        node = line.tree.children[0]
        assert isinstance(node, lark.Tree)
        if node.data == "test_skip" and node.children[1] is not None:
            self._fixture_skip = str(node.children[2]).strip()
            return
        if node.data == "action_line" and node.children[1] is not None:
            action, index, _, directive = self._read_action_line(line, node)
            self._globals.setdefault(f"{action}.{index}", []).append(directive)
            return
        self._fail(
            line,
            "outside a test case only global directives are allowed ('action: global ...' or 'test skip global: ...');"
            " start a test case with 'test name: ...'",
        )

    def _read_action_line(self, line: _Line, node: lark.Tree[lark.Token]) -> tuple[str, int, bool, Directive]:
        reference, is_global, directive_node = node.children
        action, _, index = str(reference).partition(".")
        assert isinstance(directive_node, lark.Tree)
        return action, int(index or 0), is_global is not None, self._directive(line, directive_node)

    def _assemble(self, parsed: _ParsedTestCase) -> None:
        cases: dict[str, ActionCase] = {}
        for action, index, directive in parsed.own:
            key = f"{action}.{index}"
            if key not in cases:
                cases[key] = ActionCase(action, index, directive.line, list(self._globals.get(key, [])))
                parsed.case.actions.append(cases[key])
            cases[key].directives.append(directive)
        for action_case in parsed.case.actions:
            self._check_scope(action_case.directives)
        self._check_scope(parsed.case.directives)

    def _check_scope(self, directives: list[Directive]) -> None:
        """Combinations PySOA documents as mutually exclusive, within one action case or one test case."""
        errors = [d for d in directives if isinstance(d, ExpectError) and not d.negate]
        for slot_is_job in (False, True):
            in_slot = [d for d in errors if d.job == slot_is_job]
            if any(d.exact for d in in_slot) and not all(d.exact for d in in_slot):
                later = in_slot[-1]
                self._fail(
                    (later.line, later.source),
                    "'exact' and non-'exact' error expectations cannot be mixed in one action case",
                )
        stubs: dict[tuple[str, str], list[Directive]] = {}
        for d in directives:
            if isinstance(d, StubBody | StubError | StubCalled):
                stubs.setdefault((d.service, d.action), []).append(d)
        for (service, action), stub_directives in stubs.items():
            last = stub_directives[-1]
            if any(isinstance(d, StubBody) for d in stub_directives) and any(
                isinstance(d, StubError) for d in stub_directives
            ):
                self._fail(
                    (last.line, last.source),
                    f"the stub of {service}.{action} cannot have both a body and errors",
                )
            called = {d.negate for d in stub_directives if isinstance(d, StubCalled)}
            if len(called) == 2:
                self._fail(
                    (last.line, last.source),
                    f"'expect called' and 'expect not called' cannot be combined for the stub of {service}.{action}",
                )

    # --- one directive ----------------------------------------------------------------------------

    def _directive(self, line: _Line, node: lark.Tree[lark.Token]) -> Directive:
        handler = getattr(self, f"_read_{node.data}")
        directive: Directive = handler(line, *node.children)
        return directive

    def _typed(self, line: _Line, data_type: lark.Token | None, raw: lark.Token | None) -> tuple[str, str | None]:
        type_name = " ".join(str(data_type).split()) if data_type is not None else "str"
        text = str(raw).rstrip() if raw is not None else None
        if not has_substitution(text) and not (text or "").startswith(("now", "utc_", "today", "midnight")):
            try:
                convert(type_name, text)
            except DataTypeConversionError as exc:
                self._fail(line, str(exc))
        return type_name, text

    def _path(self, line: _Line, path: lark.Token | None) -> str:
        try:
            split_path(str(path))
        except ValueError as exc:
            self._fail(line, str(exc))
        return str(path)

    def _read_input(self, line: _Line, job: Any, slot: Any, _input: Any, data_type: Any, path: Any, raw: Any) -> Input:
        type_name, text = self._typed(line, data_type, raw)
        if type_name in ("regex", "not regex"):
            self._fail(line, f"the data type {type_name!r} is for expectations only")
        where = str(slot) if job is not None else "body"
        return Input(line.number, line.text, where, self._path(line, path), type_name, text)  # type: ignore[arg-type]

    def _read_expect_no_errors(self, line: _Line, *_: Any) -> ExpectNoErrors:
        return ExpectNoErrors(line.number, line.text)

    def _read_expect_error(
        self, line: _Line, _e: Any, negate: Any, exact: Any, job: Any, _error: Any, code: Any, field: Any, message: Any
    ) -> ExpectError:
        return ExpectError(
            line.number,
            line.text,
            negate is not None,
            exact is not None,
            job is not None,
            str(code),
            None if field is None else str(field),
            None if message is None else str(message).rstrip(),
        )

    def _read_expect_value(
        self, line: _Line, _e: Any, data_type: Any, negate: Any, _av: Any, path: Any, raw: Any
    ) -> ExpectValue:
        type_name, text = self._typed(line, data_type, raw)
        kind: Literal["equal", "not_equal"] = "not_equal" if negate is not None else "equal"
        return ExpectValue(line.number, line.text, kind, self._path(line, path), type_name, text)

    def _read_expect_any(self, line: _Line, _e: Any, _any: Any, data_type: Any, _av: Any, path: Any) -> ExpectValue:
        type_name = " ".join(str(data_type).split()) if data_type is not None else "str"
        return ExpectValue(line.number, line.text, "any", self._path(line, path), type_name, None)

    def _read_expect_none(self, line: _Line, _e: Any, _none: Any, _av: Any, path: Any) -> ExpectValue:
        return ExpectValue(line.number, line.text, "none", self._path(line, path), "none", None)

    def _read_expect_not_present(self, line: _Line, _e: Any, _np: Any, _av: Any, path: Any) -> ExpectValue:
        return ExpectValue(line.number, line.text, "not_present", self._path(line, path), "str", None)

    def _json(self, line: _Line, raw: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError as exc:
            self._fail(line, f"{raw!r} is not JSON (strings need double quotes): {exc}")

    def _read_mock_result(self, line: _Line, _m: Any, target: Any, path: Any, instruction: Any, raw: Any) -> MockResult:
        text = None if raw is None else str(raw).strip()
        if instruction is None:
            if text is None:
                self._fail(line, "a mock result needs a JSON value, 'exception NAME' or 'delete'")
            return MockResult(line.number, line.text, str(target), str(path), "value", self._json(line, text or ""))
        if str(instruction) == "delete":
            if text is not None:
                self._fail(line, "'delete' takes no value")
            return MockResult(line.number, line.text, str(target), str(path), "delete", None)
        if text is None:
            self._fail(line, "'exception' needs a built-in exception name or 'module.path:ExceptionName'")
        self._exception_class(line, text or "")
        return MockResult(line.number, line.text, str(target), str(path), "exception", text)

    def _exception_class(self, line: _Line, name: str) -> None:
        """Check a built-in name now; a ``module:Name`` is imported when the test runs."""
        if ":" in name:
            return
        found = getattr(builtins, name, None)
        if not (isinstance(found, type) and issubclass(found, BaseException)):
            self._fail(line, f"{name!r} is not a built-in exception; name others as 'module.path:ExceptionName'")

    def _read_mock_called(
        self, line: _Line, _m: Any, target: Any, _e: Any, negate: Any, _c: Any, path: Any, raw: Any
    ) -> MockCalled:
        args: tuple[Any, ...] = ()
        kwargs: dict[str, Any] = {}
        if negate is None:
            call = self._json(line, str(raw).strip()) if raw is not None else None
            if not (
                isinstance(call, list) and len(call) == 2 and isinstance(call[0], list) and isinstance(call[1], dict)
            ):
                self._fail(line, 'an expected call is JSON [[args...], {"keyword": value...}], for example [[], {}]')
            args, kwargs = tuple(call[0]), call[1]
        elif raw is not None and str(raw).strip():
            self._fail(line, "'expect not called' takes no call arguments")
        return MockCalled(
            line.number, line.text, str(target), None if path is None else str(path), negate is not None, args, kwargs
        )

    def _read_stub_body(
        self, line: _Line, _s: Any, service: Any, action: Any, _b: Any, data_type: Any, path: Any, raw: Any
    ) -> StubBody:
        type_name, text = self._typed(line, data_type, raw)
        return StubBody(line.number, line.text, str(service), str(action), self._path(line, path), type_name, text)

    def _read_stub_error(
        self, line: _Line, _s: Any, service: Any, action: Any, _e: Any, code: Any, field: Any, message: Any
    ) -> StubError:
        field_name = None if str(field).lower() == "none" else str(field)
        return StubError(
            line.number, line.text, str(service), str(action), str(code), field_name, str(message).rstrip()
        )

    def _read_stub_called(
        self,
        line: _Line,
        _s: Any,
        service: Any,
        action: Any,
        _e: Any,
        negate: Any,
        _c: Any,
        data_type: Any,
        path: Any,
        raw: Any,
    ) -> StubCalled:
        if negate is not None and path is not None:
            self._fail(line, "'expect not called' takes no request body")
        type_name, text = self._typed(line, data_type, raw)
        return StubCalled(
            line.number,
            line.text,
            str(service),
            str(action),
            negate is not None,
            None if path is None else self._path(line, path),
            type_name,
            text,
        )

    def _read_freeze_time(self, line: _Line, _f: Any, raw: Any) -> FreezeTime:
        try:
            freeze_target(str(raw).strip())
        except DataTypeConversionError as exc:
            self._fail(line, str(exc))
        return FreezeTime(line.number, line.text, str(raw).strip())


def parse_fixture_file(file_name: str) -> TestFixture:
    """Parse ``file_name``; the fixture's name is the file name without directories and extension."""
    name = os.path.splitext(os.path.basename(file_name))[0]
    return ServiceTestPlanFixtureParser(file_name, name).parse()
