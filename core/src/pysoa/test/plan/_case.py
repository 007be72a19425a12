"""``ServicePlanTestCase``: runs the test cases of ``.pysoa`` fixtures against a service in-process."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, ClassVar

from pysoa.test.plan._expectations import Failure, check_action_response
from pysoa.test.plan._model import ActionCase, Directive, ExpectValue, Input, TestCase, TestFixture
from pysoa.test.plan._scope import enter_scope
from pysoa.test.plan._values import MISSING, convert, get_path, has_substitution, put_path, split_path, substitute
from pysoa.test.plan.errors import DataTypeConversionError, DirectiveError, FixtureLoadError, PlanExpectationError
from pysoa.test.plan.parser import parse_fixture_file
from pysoa.test.server import PyTestServerTestCase
from pysoa.test.stub_service import stub_action

__all__ = ["FixtureTestCaseData", "ServicePlanTestCase"]


@dataclass
class FixtureTestCaseData:
    """One fixture test case as the pytest plugin collects it; ``callable(instance)`` runs it."""

    name: str
    description: str
    fixture_name: str
    fixture_file: str
    line_number: int
    skip: str | None
    callable: Callable[[ServicePlanTestCase], None]
    test_fixture: list[TestCase]
    is_first_fixture_case: bool
    is_last_fixture_case: bool


class ServicePlanTestCase(PyTestServerTestCase):
    """Base class of test plans: set ``server_class``, ``server_settings`` and ``fixture_path``
    (a directory searched recursively for files matching ``fixture_regex``) or ``custom_fixtures``
    (a list of files); ``model_constants`` supplies ``[[name.path]]`` substitutions.

    The pytest plugin collects one test per fixture test case (and the class's own ``test_``
    methods as usual). Hooks, in the order they run (call ``super()`` first when overriding):
    ``setup_class``, ``setup_method``, ``set_up_test_fixture`` (once per fixture file, before its
    first test case runs), ``set_up_test_case``, then for each action case
    ``set_up_test_case_action`` / ``tear_down_test_case_action``, then ``tear_down_test_case``,
    ``teardown_method``, ``tear_down_test_fixture`` (after the fixture's last test case) and
    ``teardown_class``.

    An action case that the server does not know can be answered by a method
    ``_process_stub_action_<action name>(body)`` of the test class (a test-only action).
    """

    fixture_path: ClassVar[str | None] = None
    custom_fixtures: ClassVar[Sequence[str]] = ()
    fixture_regex: ClassVar[re.Pattern[str]] = re.compile(r"^[^.].*?\.pysoa$")
    model_constants: ClassVar[Mapping[str, Any]] = {}

    # --- hooks -------------------------------------------------------------------------------------

    def set_up_test_fixture(self, test_fixture: list[TestCase], **kwargs: Any) -> None:
        """Runs once per fixture file, before its first test case."""

    def tear_down_test_fixture(self, test_fixture: list[TestCase], **kwargs: Any) -> None:
        """Runs once per fixture file, after its last test case."""

    def set_up_test_case(self, test_case: TestCase, test_fixture: list[TestCase], **kwargs: Any) -> None:
        """Runs before each fixture test case (after ``setup_method``)."""

    def tear_down_test_case(self, test_case: TestCase, test_fixture: list[TestCase], **kwargs: Any) -> None:
        """Runs after each fixture test case (before ``teardown_method``), even when it failed."""

    def set_up_test_case_action(
        self,
        action_name: str,
        action_case: ActionCase,
        test_case: TestCase,
        test_fixture: list[TestCase],
        **kwargs: Any,
    ) -> None:
        """Runs before each action case is called."""

    def tear_down_test_case_action(
        self,
        action_name: str,
        action_case: ActionCase,
        test_case: TestCase,
        test_fixture: list[TestCase],
        **kwargs: Any,
    ) -> None:
        """Runs after each action case, even when it failed."""

    # --- fixtures ----------------------------------------------------------------------------------

    @classmethod
    def get_fixture_file_names(cls) -> list[str]:
        """``custom_fixtures`` if set, else the files under ``fixture_path`` matching ``fixture_regex``, sorted."""
        if cls.custom_fixtures:
            return list(cls.custom_fixtures)
        if not cls.fixture_path:
            return []
        if not os.path.isdir(cls.fixture_path):
            raise FixtureLoadError(f"{cls.__name__}.fixture_path {cls.fixture_path!r} is not a directory")
        found = [
            os.path.join(directory, name)
            for directory, _, names in os.walk(cls.fixture_path)
            for name in names
            if cls.fixture_regex.search(name)
        ]
        if not found:
            raise FixtureLoadError(
                f"{cls.__name__}.fixture_path {cls.fixture_path!r} holds no file matching "
                f"fixture_regex {cls.fixture_regex.pattern!r}"
            )
        return sorted(found)

    @classmethod
    def load_test_fixtures(cls) -> list[TestFixture]:
        """Parse every fixture file; raises ``FixtureSyntaxError`` naming the file and line of a mistake."""
        return [parse_fixture_file(name) for name in cls.get_fixture_file_names()]

    @classmethod
    def get_fixture_test_information(cls) -> Iterator[FixtureTestCaseData]:
        """One entry per fixture test case: fixture files in order, test cases in the order written."""
        for fixture in cls.load_test_fixtures():
            runnable = [case for case in fixture.test_cases if not case.skip]
            for test_case in fixture.test_cases:
                yield FixtureTestCaseData(
                    name=test_case.name,
                    description=test_case.description,
                    fixture_name=fixture.name,
                    fixture_file=fixture.file,
                    line_number=test_case.line,
                    skip=test_case.skip,
                    callable=_runner(test_case, fixture.test_cases),
                    test_fixture=fixture.test_cases,
                    is_first_fixture_case=test_case is fixture.test_cases[0],
                    is_last_fixture_case=bool(runnable) and test_case is runnable[-1],
                )

    def run_test_case(self, test_case: TestCase, test_fixture: list[TestCase]) -> None:
        """Run one fixture test case with its ``set_up_test_case`` / ``tear_down_test_case`` hooks."""
        self.set_up_test_case(test_case, test_fixture)
        try:
            _TestCaseRun(self, test_case, test_fixture).run()
        finally:
            self.tear_down_test_case(test_case, test_fixture)


def _runner(test_case: TestCase, test_fixture: list[TestCase]) -> Callable[[ServicePlanTestCase], None]:
    def run(plan: ServicePlanTestCase) -> None:
        plan.run_test_case(test_case, test_fixture)

    run.__doc__ = test_case.description
    return run


class _TestCaseRun:
    """One run of one test case: the responses so far (for substitutions) and the directives' scopes."""

    def __init__(self, plan: ServicePlanTestCase, test_case: TestCase, test_fixture: list[TestCase]) -> None:
        self.plan = plan
        self.test_case = test_case
        self.test_fixture = test_fixture
        self.bodies: dict[str, dict[int, Any]] = {}  # ACTION_NAME -> call index -> response body

    def locate(self, directive: Directive, message: str) -> DirectiveError:
        return DirectiveError(
            f"{self.test_case.fixture_file}:{directive.line}: {message}\n    {directive.source.strip()}"
        )

    def resolve(self, path: str) -> Any:
        """The value of a ``[[path]]``: an earlier response of this test case, or a model constant."""
        elements = split_path(path)
        head, rest = elements[0], elements[1:]
        if isinstance(head, str) and head in self.bodies:
            index = 0
            if rest and isinstance(rest[0], int):
                index, rest = rest[0], rest[1:]
            if index in self.bodies[head]:
                value = get_path(self.bodies[head][index], rest)
                if value is not MISSING:
                    return value
                raise KeyError(f"the response of {head.lower()}.{index} has no {'.'.join(map(str, rest))}")
            raise KeyError(f"{head.lower()}.{index} has not run earlier in this test case")
        value = get_path(self.plan.model_constants, elements)
        if value is MISSING:
            raise KeyError(
                f"no earlier action case {str(head).lower()} in this test case and no model constant {path!r}"
            )
        return value

    def value(self, data_type: str, raw: str | None, directive: Directive) -> Any:
        """The typed value of a directive, with ``[[...]]`` substituted first."""
        try:
            if has_substitution(raw):
                assert raw is not None
                substituted = substitute(raw, self.resolve)
                if not isinstance(substituted, str):
                    return substituted
                raw = substituted
            return convert(data_type, raw)
        except KeyError as exc:
            raise self.locate(directive, f"cannot substitute {raw!r}: {exc.args[0]}") from None
        except DataTypeConversionError as exc:
            raise self.locate(directive, str(exc)) from None

    def run(self) -> None:
        with ExitStack() as stack:
            check_scope = enter_scope(stack, self.test_case.directives, self.value, self.locate)
            for action_case in self.test_case.actions:
                self.run_action_case(action_case)
            failures = check_scope()
        if failures:
            raise PlanExpectationError(
                self.test_case.fixture_file, self.test_case.line, f"test case {self.test_case.name}", failures
            )

    def run_action_case(self, action_case: ActionCase) -> None:
        plan, test_case = self.plan, self.test_case
        plan.set_up_test_case_action(action_case.name, action_case, test_case, self.test_fixture)
        try:
            failures = self._call_and_check(action_case)
        except Exception as exc:
            exc.add_note(f"in action case {action_case.key} at {test_case.fixture_file}:{action_case.line}")
            raise
        finally:
            plan.tear_down_test_case_action(action_case.name, action_case, test_case, self.test_fixture)
        if failures:
            raise PlanExpectationError(
                test_case.fixture_file, action_case.line, f"{action_case.key} (test case {test_case.name})", failures
            )

    def _call_and_check(self, action_case: ActionCase) -> list[Failure]:
        inputs: dict[str, dict[str, Any]] = {"body": {}, "context": {}, "control": {}}
        with ExitStack() as stack:
            check_scope = enter_scope(stack, action_case.directives, self.value, self.locate)
            for directive in action_case.directives:
                if isinstance(directive, Input):
                    value = self.value(directive.data_type, directive.raw, directive)
                    put_path(inputs[directive.slot], directive.path, value)
            self._stub_test_only_action(stack, action_case.name)
            job = self.plan.client.call_actions(
                self.plan.service_name,
                [{"action": action_case.name, "body": inputs["body"]}],
                raise_job_errors=False,
                raise_action_errors=False,
                context=inputs["context"] or None,
                control_extra=inputs["control"] or None,
            )
            failures = check_scope()
        action = job.actions[0] if job.actions else None
        self.bodies.setdefault(action_case.name.upper(), {})[action_case.index] = action.body if action else {}

        def expected_value(directive: ExpectValue) -> Any:
            return self.value(directive.data_type, directive.raw, directive)

        return sorted(failures + check_action_response(action_case.directives, job, action, expected_value))

    def _stub_test_only_action(self, stack: ExitStack, action_name: str) -> None:
        server_class = self.plan.server_class
        process = getattr(self.plan, f"_process_stub_action_{action_name}", None)
        if server_class is None or process is None:
            return
        if action_name in server_class.action_class_map or action_name in ("status", "introspect"):
            return
        stack.enter_context(stub_action(self.plan.service_name, action_name, side_effect=process))
