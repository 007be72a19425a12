"""ServicePlanTestCase's class-level API: where fixtures are found and what each collected test case carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pysoa.test.plan import ServicePlanTestCase
from pysoa.test.plan.errors import FixtureLoadError
from tests.core.test_plan.plan_service import PlanServer

FIXTURES = Path(__file__).parent / "fixtures"


def plan_class(**attributes: object) -> type[ServicePlanTestCase]:
    # Made inside the tests: the plugin collects every ServicePlanTestCase subclass at module level.
    return type("Plans", (ServicePlanTestCase,), {"server_class": PlanServer, "server_settings": {}, **attributes})


def test_fixture_files_are_found_recursively_sorted_and_filtered(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/two.pysoa", "one.pysoa", ".hidden.pysoa", "notes.txt"):
        (tmp_path / name).write_text("")
    plans = plan_class(fixture_path=str(tmp_path))
    assert plans.get_fixture_file_names() == [str(tmp_path / "b" / "two.pysoa"), str(tmp_path / "one.pysoa")]
    custom = plan_class(fixture_path=str(tmp_path), custom_fixtures=["x.pysoa"])
    assert custom.get_fixture_file_names() == ["x.pysoa"]
    assert plan_class().get_fixture_file_names() == []


def test_a_bad_fixture_path_is_a_load_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(FixtureLoadError, match=r"Plans\.fixture_path '.*nowhere' is not a directory"):
        plan_class(fixture_path=str(tmp_path / "nowhere")).get_fixture_file_names()
    (tmp_path / "readme.txt").write_text("")
    with pytest.raises(FixtureLoadError, match=r"holds no file matching fixture_regex"):
        plan_class(fixture_path=str(tmp_path)).get_fixture_file_names()
    matching_txt = plan_class(fixture_path=str(tmp_path), fixture_regex=re.compile(r"\.txt$"))
    assert matching_txt.get_fixture_file_names() == [str(tmp_path / "readme.txt")]


def test_fixture_test_information_describes_every_test_case(tmp_path: Path) -> None:
    fixture = tmp_path / "cases.pysoa"
    fixture.write_text(
        "test name: first\ntest description: The first\nget_user: expect: no errors\n\n"
        "test name: second\ntest description: The second\nget_user: expect: no errors\n\n"
        "test name: third\ntest description: The third\ntest skip: not now\nget_user: expect: no errors\n"
    )
    plans = plan_class(custom_fixtures=[str(fixture)])
    information = list(plans.get_fixture_test_information())
    assert [(i.fixture_name, i.name, i.line_number, i.skip) for i in information] == [
        ("cases", "first", 1, None),
        ("cases", "second", 5, None),
        ("cases", "third", 9, "not now"),
    ]
    assert [(i.is_first_fixture_case, i.is_last_fixture_case) for i in information] == [
        (True, False),
        (False, True),  # the last test case that is not skipped
        (False, False),
    ]
    assert information[0].description == "The first"
    assert information[0].callable.__doc__ == "The first"
    assert [case.name for case in information[0].test_fixture] == ["first", "second", "third"]


def test_the_callable_runs_the_test_case_on_an_instance() -> None:
    plans = plan_class(custom_fixtures=[str(FIXTURES / "users.pysoa")], model_constants={"test_users": [{"id": 1792}]})
    by_name = {i.name: i for i in plans.get_fixture_test_information()}
    plan = plans()
    plan.setup_method()
    by_name["missing_user"].callable(plan)
    # The global input reads model_constants: user 1792 here, not the 1838 the fixture expects.
    with pytest.raises(AssertionError, match=r"expected 'john\.smith' at user\.username, got 'jane\.sanders'"):
        by_name["get_user_works"].callable(plan)
