"""The test-plan pytest plugin as users get it: plan suites run by a separate pytest run (pytester)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Imported here, before pytester's in-process runs, so that every run uses these same modules. Otherwise each run
# re-imports them, while the pysoa.test package (loaded with the fixtures plugin) keeps the previous run's
# submodules as attributes: a new stub_service would then patch the previous run's Client class.
import pysoa.test.plan  # noqa: F401

pytest_plugins = ["pytester"]

SERVICE = textwrap.dedent(
    """
    import random

    from pysoa.common.types import Error
    from pysoa.errors import ActionError
    from pysoa.server import Server


    def get_user(request):
        if request.body.get("id") != 1:
            raise ActionError([Error(code="NOT_FOUND", message="No such user", field="id")])
        return {"user": {"id": 1, "name": "Ann", "email": None}}


    def roll(request):
        return {"rolled": random.randint(1, 6)}


    def crash(request):
        return {"ratio": 1 / 0}


    def lookup(request):
        return request.client.call_action("other", "find", {"key": request.body["key"]}).body


    class Svc(Server):
        service_name = "svc"
        action_class_map = {"get_user": get_user, "roll": roll, "lookup": lookup, "crash": crash}
    """
)

PLAN_MODULE = textwrap.dedent(
    """
    import os

    from pysoa.test.plan import ServicePlanTestCase

    from plan_svc import Svc


    class SvcPlans(ServicePlanTestCase):
        server_class = Svc
        server_settings = {}
        fixture_path = os.path.join(os.path.dirname(__file__), "fixtures")

        def test_a_normal_method(self):
            assert self.call_action("get_user", {"id": 1}).body["user"]["name"] == "Ann"
    """
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(plan_svc=SERVICE, test_plans=PLAN_MODULE)
    pytester.mkdir("fixtures")
    return pytester


def write_fixture(pytester: pytest.Pytester, name: str, text: str) -> None:
    (pytester.path / "fixtures" / f"{name}.pysoa").write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def test_fixture_test_cases_are_collected_and_run_beside_normal_methods(project: pytest.Pytester) -> None:
    write_fixture(
        project,
        "users",
        """
        test name: finds_ann
        test description: Ann is there
        get_user: input int: id: 1
        get_user: expect: attribute value: user.name: Ann
        get_user: expect int: not attribute value: user.id: 2
        get_user: expect: not attribute value: user.nickname: Annie

        test name: later
        test description: Not yet
        test skip: waiting for the feature
        get_user: expect: no errors
        """,
    )
    result = project.runpytest("-v", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_plans.py::SvcPlans::test_a_normal_method PASSED*",
            "*test_plans.py::SvcPlans::users::finds_ann PASSED*",
            "*test_plans.py::SvcPlans::users::later SKIPPED*",
            "*waiting for the feature*",
        ]
    )


def test_failed_expectations_name_the_fixture_file_line_and_directive(project: pytest.Pytester) -> None:
    write_fixture(
        project,
        "failing",
        """
        test name: wrong_values
        test description: Every kind of value expectation, each unmet
        get_user: input int: id: 1
        get_user: expect: attribute value: user.name: Bob
        get_user: expect int: not attribute value: user.id: 1
        get_user: expect any int: attribute value: user.name
        get_user: expect NONE: attribute value: user.name
        get_user: expect not present: attribute value: user.email
        get_user: expect: attribute value: user.missing: x
        get_user: expect regex: attribute value: user.name: ^B

        test name: wrong_errors
        test description: Every kind of error expectation, each unmet
        get_user: input int: id: 2
        get_user: expect: no errors
        get_user: expect: error: code=FORBIDDEN
        get_user: expect: error: code=NOT_FOUND, field=name
        get_user: expect: error: code=NOT_FOUND, message=Other text
        get_user: expect: not error: code=NOT_FOUND
        get_user: expect: job error: code=NOT_FOUND

        test name: exact_errors
        test description: exact errors allow no others
        get_user: input int: id: 2
        get_user: expect: exact error: code=OTHER

        test name: server_error
        test description: A server error shows the service's traceback
        crash: expect: no errors
        """,
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=4)
    output = result.stdout.str()
    fixture_file = str(project.path / "fixtures" / "failing.pysoa")
    result.stdout.fnmatch_lines(
        [
            "*failing::wrong_values*",
            "Every kind of value expectation, each unmet",
            f"{fixture_file}:3: get_user.0 (test case wrong_values)",
            "  line 4: get_user: expect: attribute value: user.name: Bob",
            "    expected 'Bob' at user.name, got 'Ann'",
            "  line 5: get_user: expect int: not attribute value: user.id: 1",
            "    expected anything but 1 at user.id, got 1",
            "  line 6: get_user: expect any int: attribute value: user.name",
            "    expected any int value at user.name, got 'Ann'",
            "  line 7: get_user: expect NONE: attribute value: user.name",
            "    expected None at user.name, got 'Ann'",
            "  line 8: get_user: expect not present: attribute value: user.email",
            "    expected no user.email, but it is there: None",
            "  line 9: get_user: expect: attribute value: user.missing: x",
            "    expected 'x' at user.missing, got no user.missing",
            "  line 10: get_user: expect regex: attribute value: user.name: ^B",
            "    expected a string matching '^B' at user.name, got 'Ann'",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"{fixture_file}:14: get_user.0 (test case wrong_errors)",
            "  line 15: get_user: expect: no errors",
            "    expected no errors; the errors were:",
            "      code=NOT_FOUND, field=id, message=No such user",
            "  line 16: get_user: expect: error: code=FORBIDDEN",
            "    expected the action error code=FORBIDDEN; the errors were:",
            "  line 17: get_user: expect: error: code=NOT_FOUND, field=name",
            "  line 18: get_user: expect: error: code=NOT_FOUND, message=Other text",
            "  line 19: get_user: expect: not error: code=NOT_FOUND",
            "    expected no action error code=NOT_FOUND; the errors were:",
            "  line 20: get_user: expect: job error: code=NOT_FOUND",
            "    expected the job error code=NOT_FOUND; there were no errors",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  line 25: get_user: expect: exact error: code=OTHER",
            "    'exact' action errors do not allow other errors, but there were:",
            "      code=NOT_FOUND, field=id, message=No such user",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  line 29: crash: expect: no errors",
            "    expected no errors; the errors were:",
            "      code=SERVER_ERROR, message=Internal server error: division by zero",
            "        Traceback (most recent call last):",
            '        *return {"ratio": 1 / 0}*',
            "        ZeroDivisionError: division by zero",
        ]
    )
    # The report shows the fixture, not the plan machinery's Python code.
    assert "pysoa/test/plan" not in output
    assert "def run_test_case" not in output


def test_disable_tb_prune_shows_the_python_traceback(project: pytest.Pytester) -> None:
    write_fixture(
        project,
        "one",
        """
        test name: wrong
        test description: Fails
        get_user: input int: id: 1
        get_user: expect: attribute value: user.name: Bob
        """,
    )
    result = project.runpytest("--pysoa-disable-tb-prune")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*PlanExpectationError*", "*one.pysoa:3: get_user.0 (test case wrong)*"])
    assert "_case.py" in result.stdout.str()


def test_stub_and_mock_expectations_fail_with_the_calls_made(project: pytest.Pytester) -> None:
    write_fixture(
        project,
        "doubles",
        """
        test name: stub_called_otherwise
        test description: The stub was called with another body
        stub action: other: find: body: value: 1
        stub action: other: find: expect called: key: wanted
        lookup: input: key: given
        lookup: expect: attribute value: value: 1

        test name: stub_not_called
        test description: The stub was expected but not called
        stub action: other: unused: expect called:
        get_user: input int: id: 1

        test name: stub_called_unexpectedly
        test description: The stub was called but should not have been
        lookup: stub action: other: find: expect not called:
        lookup: input: key: k

        test name: mock_calls
        test description: The mock was called with other arguments
        roll: mock: plan_svc.random: randint.return_value: 6
        roll: mock: plan_svc.random: expect called randint: [[1, 20], {}]
        roll: mock: plan_svc.random: expect not called shuffle:
        roll: expect int: attribute value: rolled: 6
        """,
    )
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*doubles.pysoa:1: test case stub_called_otherwise",
            "  line 4: stub action: other: find: expect called: key: wanted",
            "    expected a call of other.find with {'key': 'wanted'}; it was called with [{'key': 'given'}]",
        ]
    )
    result.stdout.fnmatch_lines(["    expected a call of other.unused with {}; it was not called"])
    result.stdout.fnmatch_lines(
        [
            "*doubles.pysoa:15: lookup.0 (test case stub_called_unexpectedly)",
            "    expected no call of other.find; it was called with [{'key': 'k'}]",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  line 21: roll: mock: plan_svc.random: expect called randint: [[1, 20], {}]",
            "    expected the calls [call(1, 20)] of plan_svc.random.randint; got [call(1, 6)]",
        ]
    )


def test_a_syntax_error_is_a_collection_error_naming_file_line_and_column(project: pytest.Pytester) -> None:
    write_fixture(
        project,
        "broken",
        """
        test name: fine
        test description: Fine so far
        get_user: expect: no errors

        # A typo: "expects" for "expect".
        get_user: global input int: id: 1
        test name: oops
        """,
    )
    write_fixture(
        project,
        "typo",
        """
        test name: typo
        test description: A directive that does not exist
        get_user: expects: no errors
        """,
    )
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            f"{project.path / 'fixtures' / 'typo.pysoa'}:3: invalid test plan syntax: found 'expects', "
            "expected 'expect' or 'freeze time' or 'global' or 'input' or 'job' or 'mock' or 'stub action'",
            "    get_user: expects: no errors",
            "              ^",
        ]
    )
    result.stdout.fnmatch_lines(
        [f"{project.path / 'fixtures' / 'broken.pysoa'}:7: outside a test case only global directives are allowed*"]
    )


def test_a_missing_fixture_directory_is_a_collection_error_naming_the_setting(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(plan_svc=SERVICE, test_plans=PLAN_MODULE)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [f"SvcPlans.fixture_path '{pytester.path / 'fixtures'}' is not a directory", "*1 error*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_fixture_and_test_case_filters(project: pytest.Pytester) -> None:
    case = "test name: {0}\ntest description: d\nget_user: input int: id: 1\nget_user: expect: no errors\n\n"
    write_fixture(project, "alpha", case.format("get_one") + case.format("get_two") + case.format("other"))
    write_fixture(project, "beta", case.format("get_one"))

    def selected(*args: str) -> set[str]:
        result = project.runpytest("--collect-only", "-q", *args)
        return {line.split("::", 2)[-1] for line in result.stdout.lines if "::" in line}

    assert selected("--pysoa-fixture", "alpha") == {"alpha::get_one", "alpha::get_two", "alpha::other"}
    assert selected("--pysoa-test-case", "get_one") == {"alpha::get_one", "beta::get_one"}
    assert selected("--pysoa-fixture", "beta", "--pysoa-test-case", "get_one") == {"beta::get_one"}
    assert selected("--pysoa-test-case-regex", "get_") == {"alpha::get_one", "alpha::get_two", "beta::get_one"}
    assert selected("-k", "two or test_a_normal") == {"alpha::get_two", "test_a_normal_method"}
    result = project.runpytest("--pysoa-test-case", "x", "--pysoa-test-case-regex", "y")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--pysoa-test-case and --pysoa-test-case-regex cannot be used together*"])


def test_hooks_run_in_order_and_fixture_hooks_once_per_fixture(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_plans=PLAN_MODULE
        + textwrap.dedent(
            """
            CALLS = []


            class TestHooks(SvcPlans):
                @classmethod
                def setup_class(cls):
                    super().setup_class()
                    CALLS.append("setup_class")

                def setup_method(self, method=None):
                    super().setup_method(method)
                    CALLS.append("setup_method")

                def set_up_test_fixture(self, test_fixture, **kwargs):
                    super().set_up_test_fixture(test_fixture, **kwargs)
                    CALLS.append("set_up_test_fixture " + ",".join(case["name"] for case in test_fixture))

                def set_up_test_case(self, test_case, test_fixture, **kwargs):
                    super().set_up_test_case(test_case, test_fixture, **kwargs)
                    CALLS.append("set_up_test_case " + test_case["name"])

                def set_up_test_case_action(self, action_name, action_case, test_case, test_fixture, **kwargs):
                    super().set_up_test_case_action(action_name, action_case, test_case, test_fixture, **kwargs)
                    CALLS.append("set_up_test_case_action " + action_case.key)

                def tear_down_test_case_action(self, action_name, action_case, test_case, test_fixture, **kwargs):
                    super().tear_down_test_case_action(action_name, action_case, test_case, test_fixture, **kwargs)
                    CALLS.append("tear_down_test_case_action " + action_case.key)

                def tear_down_test_case(self, test_case, test_fixture, **kwargs):
                    super().tear_down_test_case(test_case, test_fixture, **kwargs)
                    CALLS.append("tear_down_test_case " + test_case["name"])

                def teardown_method(self, method=None):
                    super().teardown_method(method)
                    CALLS.append("teardown_method")

                def tear_down_test_fixture(self, test_fixture, **kwargs):
                    super().tear_down_test_fixture(test_fixture, **kwargs)
                    CALLS.append("tear_down_test_fixture")

                @classmethod
                def teardown_class(cls):
                    super().teardown_class()
                    CALLS.append("teardown_class")


            def test_zz_order():
                assert CALLS == [
                    "setup_class",
                    "setup_method",
                    "teardown_method",
                    "setup_method",
                    "set_up_test_fixture one,two",
                    "set_up_test_case one",
                    "set_up_test_case_action get_user.0",
                    "tear_down_test_case_action get_user.0",
                    "set_up_test_case_action roll.0",
                    "tear_down_test_case_action roll.0",
                    "tear_down_test_case one",
                    "teardown_method",
                    "setup_method",
                    "set_up_test_case two",
                    "set_up_test_case_action get_user.0",
                    "tear_down_test_case_action get_user.0",
                    "tear_down_test_case two",
                    "teardown_method",
                    "tear_down_test_fixture",
                    "teardown_class",
                ]
            """
        )
    )
    write_fixture(
        project,
        "hooks",
        """
        test name: one
        test description: d
        get_user: input int: id: 1
        roll: expect: no errors

        test name: two
        test description: d
        get_user: input int: id: 1
        """,
    )
    result = project.runpytest("-p", "no:randomly", "-k", "TestHooks or test_zz_order")
    result.assert_outcomes(passed=4)


def test_a_failed_fixture_set_up_fails_every_test_case_of_the_fixture(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_plans=PLAN_MODULE
        + textwrap.dedent(
            """
            class TestBrokenSetUp(SvcPlans):
                def set_up_test_fixture(self, test_fixture, **kwargs):
                    raise RuntimeError("no database")
            """
        )
    )
    case = "test name: {0}\ntest description: d\nget_user: input int: id: 1\n\n"
    write_fixture(project, "data", case.format("first") + case.format("second"))
    result = project.runpytest("-k", "TestBrokenSetUp")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*RuntimeError: no database*"])
    result.stdout.fnmatch_lines(["*Test fixture data not set up: set_up_test_fixture failed with RuntimeError*"])


def test_test_only_actions_and_substitution_errors(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_plans=PLAN_MODULE
        + textwrap.dedent(
            """
            class TestExtra(SvcPlans):
                model_constants = {"users": [{"id": 1}]}

                def _process_stub_action_make_user(self, body):
                    return {"made": body["name"]}
            """
        )
    )
    write_fixture(
        project,
        "extra",
        """
        test name: test_only_action
        test description: An action the server lacks, answered by the test class
        make_user: input: name: Zed
        make_user: expect: attribute value: made: Zed
        get_user: input int: id: [[users.0.id]]
        get_user: expect: attribute value: user.name: Ann

        test name: unknown_substitution
        test description: A substitution that names nothing
        get_user: input int: id: [[GET_USER.0.user.id]]
        """,
    )
    result = project.runpytest("-k", "TestExtra")
    result.assert_outcomes(passed=2, failed=1)
    # Not fnmatch: "[[" would be a character class.
    assert (
        f"{project.path / 'fixtures' / 'extra.pysoa'}:10: cannot substitute '[[GET_USER.0.user.id]]': no earlier "
        "action case get_user in this test case and no model constant 'GET_USER.0.user.id'\n"
        "    get_user: input int: id: [[GET_USER.0.user.id]]\n"
    ) in result.stdout.str()


def test_the_plugin_does_nothing_in_runs_without_test_plans(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_nothing_of_the_plan_system_is_imported():
            assert "pysoa.test.plan" not in sys.modules
            assert "lark" not in sys.modules
        """
    )
    # A separate process: this one has imported pysoa already. The plugin is loaded by its entry point.
    result = pytester.runpytest_subprocess()
    assert "soa-core" in result.stdout.str()  # the plugins line: the entry points were loaded
    result.assert_outcomes(passed=1)


def test_importing_without_the_extra_names_the_install_line() -> None:
    code = "import sys; sys.modules['lark'] = None; import pysoa.test.plan"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert completed.returncode == 1
    assert "pysoa.test.plan needs soa-core's 'testplan' extra (lark is not installed)" in completed.stderr
    assert "pip install 'soa-core[testplan]'" in completed.stderr
