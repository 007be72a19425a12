"""pytest plugin that collects PySOA test plans (registered through the ``pytest11`` entry point).

Every subclass of :class:`pysoa.test.plan.ServicePlanTestCase` in a test module is collected,
whatever its name, as a class holding its own ``test_`` methods plus one node per fixture file
holding one test per fixture test case: ``test_module.py::MyPlans::user_actions::get_user_works``.
``-k`` matches fixture and test case names; ``--pysoa-fixture``, ``--pysoa-test-case`` and
``--pysoa-test-case-regex`` keep only the matching fixture test cases.

A failed expectation is reported as the fixture file, line and directive that failed, without a
Python traceback (``--pysoa-disable-tb-prune`` shows it). A fixture with a syntax error is a
collection error naming the file and line.

The plugin imports nothing of soa-core and does nothing unless a test module has imported
:mod:`pysoa.test.plan`, so it costs nothing in test runs without test plans.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pysoa.test.plan import ServicePlanTestCase, TestCase, TestFixture

__all__ = ["ServicePlanClass", "ServicePlanFixture", "ServicePlanTestItem"]

_PLAN_MODULE = "pysoa.test.plan._case"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pysoa", "PySOA test plans")
    group.addoption(
        "--pysoa-fixture",
        action="append",
        default=[],
        metavar="NAME",
        help="run only the test cases of this test plan fixture (file name without .pysoa; repeatable)",
    )
    group.addoption(
        "--pysoa-test-case",
        action="append",
        default=[],
        metavar="NAME",
        help="run only the test plan test cases with this name (repeatable)",
    )
    group.addoption(
        "--pysoa-test-case-regex",
        default=None,
        metavar="REGEX",
        help="run only the test plan test cases whose names match this regular expression (from the start)",
    )
    group.addoption(
        "--pysoa-disable-tb-prune",
        action="store_true",
        default=False,
        help="show the full Python traceback of failed test plan expectations",
    )


def pytest_configure(config: pytest.Config) -> None:
    regex = config.getoption("pysoa_test_case_regex")
    if regex is None:
        return
    if config.getoption("pysoa_test_case"):
        raise pytest.UsageError("--pysoa-test-case and --pysoa-test-case-regex cannot be used together")
    try:
        re.compile(regex)
    except re.error as exc:
        raise pytest.UsageError(f"--pysoa-test-case-regex {regex!r} is not a regular expression: {exc}") from None


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> ServicePlanClass | None:
    plan_module = sys.modules.get(_PLAN_MODULE)
    if plan_module is None or not isinstance(obj, type):
        return None  # no test plan can exist before pysoa.test.plan is imported
    base = plan_module.ServicePlanTestCase
    if obj is base or not issubclass(obj, base):
        return None
    return ServicePlanClass.from_parent(collector, name=name, obj=obj)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    fixtures = set(config.getoption("pysoa_fixture"))
    names = set(config.getoption("pysoa_test_case"))
    regex = config.getoption("pysoa_test_case_regex")
    if not (fixtures or names or regex):
        return
    pattern = re.compile(regex) if regex else None

    def selected(item: pytest.Item) -> bool:
        if not isinstance(item, ServicePlanTestItem):
            return False  # the filters select fixture test cases only
        return (
            (not fixtures or item.test_fixture.name in fixtures)
            and (not names or item.test_case.name in names)
            and (pattern is None or pattern.match(item.test_case.name) is not None)
        )

    keep = [item for item in items if selected(item)]
    deselected = [item for item in items if not selected(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


class ServicePlanClass(pytest.Class):
    """A ``ServicePlanTestCase`` subclass: its ``test_`` methods, then one collector per fixture file."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        collected = list(super().collect())
        if not getattr(self.obj, "__test__", True):
            return collected
        plan_class: type[ServicePlanTestCase] = self.obj
        for file_name in plan_class.get_fixture_file_names():
            path = Path(file_name)
            collected.append(ServicePlanFixture.from_parent(self, name=path.stem, path=path))
        return collected

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        from pysoa.test.plan.errors import FixtureLoadError

        if isinstance(excinfo.value, FixtureLoadError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class ServicePlanFixture(pytest.Collector):
    """One ``.pysoa`` file; runs ``set_up_test_fixture`` before its first test case and
    ``tear_down_test_fixture`` after its last (on the instance that ran the first)."""

    test_fixture: TestFixture
    _set_up_on: ServicePlanTestCase | None = None
    _set_up_error: BaseException | None = None

    def collect(self) -> list[pytest.Item]:
        from pysoa.test.plan.parser import parse_fixture_file

        self.test_fixture = parse_fixture_file(str(self.path))
        return [
            ServicePlanTestItem.from_parent(self, name=test_case.name, test_case=test_case)
            for test_case in self.test_fixture.test_cases
        ]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        from pysoa.test.plan.errors import FixtureLoadError, FixtureSyntaxError

        if isinstance(excinfo.value, FixtureSyntaxError | FixtureLoadError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def ensure_set_up(self, plan: ServicePlanTestCase) -> None:
        from pysoa.test.plan.errors import StatusError

        if self._set_up_error is not None:
            raise StatusError(
                f"Test fixture {self.name} not set up: set_up_test_fixture failed with {self._set_up_error!r}"
            )
        if self._set_up_on is not None:
            return
        try:
            plan.set_up_test_fixture(self.test_fixture.test_cases)
        except BaseException as exc:
            self._set_up_error = exc
            raise
        self._set_up_on = plan

    def teardown(self) -> None:
        plan, self._set_up_on = self._set_up_on, None
        if plan is not None:
            plan.tear_down_test_fixture(self.test_fixture.test_cases)


class ServicePlanTestItem(pytest.Function):
    """One fixture test case, run as a method of a new instance of the test plan class."""

    parent: ServicePlanFixture
    _plan_instance: ServicePlanTestCase

    def __init__(self, *, test_case: TestCase, **kwargs: Any) -> None:
        self.test_case = test_case
        super().__init__(**kwargs)
        if test_case.skip:
            self.add_marker(pytest.mark.skip(reason=test_case.skip))

    @property
    def test_fixture(self) -> TestFixture:
        return self.parent.test_fixture

    @property
    def instance(self) -> Any:
        try:
            return self._plan_instance
        except AttributeError:
            plan_class = self.parent.parent
            assert isinstance(plan_class, ServicePlanClass)
            # Like pytest's own test methods: a new instance of the class for each test.
            self._plan_instance = plan_class.obj()
            return self._plan_instance

    def _getobj(self) -> Any:
        test_case, test_fixture = self.test_case, self.parent.test_fixture

        def run_fixture_test_case(plan: ServicePlanTestCase) -> None:
            plan.run_test_case(test_case, test_fixture.test_cases)

        run_fixture_test_case.__doc__ = test_case.description
        return types.MethodType(run_fixture_test_case, self.instance)

    def runtest(self) -> None:
        self.parent.ensure_set_up(self.instance)
        super().runtest()

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.test_case.line - 1, f"{self.parent.name}::{self.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        from pysoa.test.plan.errors import DirectiveError, PlanExpectationError, StatusError

        pruned = isinstance(excinfo.value, PlanExpectationError | DirectiveError | StatusError)
        if pruned and not self.config.getoption("pysoa_disable_tb_prune"):
            return f"{self.test_case.description}\n{excinfo.value}"
        return super().repr_failure(excinfo)
