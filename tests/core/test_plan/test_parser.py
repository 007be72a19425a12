"""The fixture parser: each directive family becomes its record; mistakes name the file and line."""

from __future__ import annotations

import datetime
import decimal
import textwrap
from pathlib import Path

import pytest

from pysoa.test.plan._model import (
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
    TestFixture,
)
from pysoa.test.plan._values import RegexValue, convert, freeze_target, get_path, put_path, split_path, substitute
from pysoa.test.plan.errors import DataTypeConversionError, FixtureLoadError, FixtureSyntaxError
from pysoa.test.plan.parser import ServiceTestPlanFixtureParser, parse_fixture_file


def parse(tmp_path: Path, text: str) -> TestFixture:
    path = tmp_path / "sample.pysoa"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return parse_fixture_file(str(path))


def syntax_error(tmp_path: Path, text: str) -> FixtureSyntaxError:
    with pytest.raises(FixtureSyntaxError) as info:
        parse(tmp_path, text)
    return info.value


def one_case_directives(tmp_path: Path, *lines: str) -> list[object]:
    fixture = parse(tmp_path, "test name: t\ntest description: d\n" + "\n".join(lines) + "\n")
    (case,) = fixture.test_cases
    return [*case.directives, *(d for action in case.actions for d in action.directives)]


def test_test_cases_keep_names_descriptions_lines_and_action_order(tmp_path: Path) -> None:
    fixture = parse(
        tmp_path,
        """
        # A comment before anything
        get_user: global input int: id: 7
        test skip global: the whole file waits

        test name: first
        test description: The first test: with a colon
        get_user_url: input: username: x
        # a comment inside a test case
        get_user: expect: no errors
        get_user.1: expect: no errors

        test name: second
        test description: The second test
        test skip: not this one
        other: input: a: b
        """,
    )
    assert fixture.name == "sample"
    first, second = fixture.test_cases
    assert (first.name, first.description, first.line) == ("first", "The first test: with a colon", 5)
    assert [action.key for action in first.actions] == ["get_user_url.0", "get_user.0", "get_user.1"]
    assert first.actions[1].line == 9
    # The global input applies to get_user.0 only, before the test's own directives.
    assert [type(d) for d in first.actions[1].directives] == [Input, ExpectNoErrors]
    assert first.actions[1].directives[0].line == 2
    assert [type(d) for d in first.actions[2].directives] == [ExpectNoErrors]
    # "test skip global" skips every test case of the file; a test's own reason wins.
    assert (first.skip, second.skip) == ("the whole file waits", "not this one")
    assert (first["name"], first["line_number"]) == ("first", 5)
    assert (
        ServiceTestPlanFixtureParser(str(tmp_path / "sample.pysoa"), "sample").parse_test_fixture()[0].name == "first"
    )


def test_globals_apply_only_to_later_test_cases(tmp_path: Path) -> None:
    fixture = parse(
        tmp_path,
        """
        test name: before
        test description: d
        act: input: a: 1

        act: global input: b: 2

        test name: after
        test description: d
        act: input: a: 1
        """,
    )
    before, after = fixture.test_cases
    assert [d.path for d in before.actions[0].directives if isinstance(d, Input)] == ["a"]
    assert [d.path for d in after.actions[0].directives if isinstance(d, Input)] == ["b", "a"]


def test_input_directives(tmp_path: Path) -> None:
    directives = one_case_directives(
        tmp_path,
        "act: input int: user.id: 12",
        "act: job context input: locale: en_US",
        "act: job control input bool: flag: true",
        "act: input emptystr: name:",
    )
    assert [(d.slot, d.path, d.data_type, d.raw) for d in directives if isinstance(d, Input)] == [
        ("body", "user.id", "int", "12"),
        ("context", "locale", "str", "en_US"),
        ("control", "flag", "bool", "true"),
        ("body", "name", "emptystr", None),
    ]


def test_error_expectation_directives(tmp_path: Path) -> None:
    directives = one_case_directives(
        tmp_path,
        "act: expect: no errors",
        "act: expect: error: code=A",
        "act: expect: error: code=B, field=user.first-name",
        "act: expect: error: code=C, message=Text, with: punctuation",
        "act: expect: not job error: code=D, field=f, message=M",
        "other: expect: exact error: code=E",
    )
    assert isinstance(directives[0], ExpectNoErrors)
    assert [(d.negate, d.exact, d.job, d.code, d.field, d.message) for d in directives[1:]] == [  # type: ignore[attr-defined]
        (False, False, False, "A", None, None),
        (False, False, False, "B", "user.first-name", None),
        (False, False, False, "C", None, "Text, with: punctuation"),
        (True, False, True, "D", "f", "M"),
        (False, True, False, "E", None, None),
    ]
    assert all(isinstance(d, ExpectError) for d in directives[1:])


def test_value_expectation_directives(tmp_path: Path) -> None:
    directives = one_case_directives(
        tmp_path,
        "act: expect: attribute value: a.b: x",
        "act: expect int: not attribute value: a.{b.c}.0: 3",
        "act: expect any datetime: attribute value: created",
        "act: expect NONE: attribute value: gone:",
        "act: expect not present: attribute value: secret",
        "act: expect not regex: attribute value: name: ^x",
    )
    assert [(d.kind, d.path, d.data_type, d.raw) for d in directives if isinstance(d, ExpectValue)] == [
        ("equal", "a.b", "str", "x"),
        ("not_equal", "a.{b.c}.0", "int", "3"),
        ("any", "created", "datetime", None),
        ("none", "gone", "none", None),
        ("not_present", "secret", "str", None),
        ("equal", "name", "not regex", "^x"),
    ]


def test_mock_directives(tmp_path: Path) -> None:
    directives = one_case_directives(
        tmp_path,
        "mock: pkg.module.random: randint.return_value: 31",
        'mock: pkg.module.obj: return_value: {"id": 3}',
        "act: mock: pkg.module.obj: a.side_effect: exception IOError",
        "act: mock: pkg.module.obj: a.b: delete",
        'mock: pkg.module.uuid: expect called uuid4: [[1], {"k": 2}]',
        "act: mock: pkg.module.obj: expect not called save:",
    )
    assert [(d.target, d.path, d.instruction, d.value) for d in directives if isinstance(d, MockResult)] == [
        ("pkg.module.random", "randint.return_value", "value", 31),
        ("pkg.module.obj", "return_value", "value", {"id": 3}),
        ("pkg.module.obj", "a.side_effect", "exception", "IOError"),
        ("pkg.module.obj", "a.b", "delete", None),
    ]
    assert [(d.target, d.path, d.negate, d.args, d.kwargs) for d in directives if isinstance(d, MockCalled)] == [
        ("pkg.module.uuid", "uuid4", False, (1,), {"k": 2}),
        ("pkg.module.obj", "save", True, (), {}),
    ]


def test_stub_action_directives(tmp_path: Path) -> None:
    directives = one_case_directives(
        tmp_path,
        "stub action: user: get_user: body int: id: 12",
        "act: stub action: user: create_user: error: code=INVALID, field=none, message=Bad: very",
        "act: stub action: user-service: get_user: expect called int: id: 12",
        "stub action: user: delete_user: expect not called:",
        "act: expect: no errors",
    )
    assert [(d.service, d.action, d.path, d.data_type, d.raw) for d in directives if isinstance(d, StubBody)] == [
        ("user", "get_user", "id", "int", "12")
    ]
    assert [(d.code, d.field, d.message) for d in directives if isinstance(d, StubError)] == [
        ("INVALID", None, "Bad: very")
    ]
    assert [(d.service, d.action, d.negate, d.path) for d in directives if isinstance(d, StubCalled)] == [
        ("user", "delete_user", True, None),
        ("user-service", "get_user", False, "id"),
    ]


def test_freeze_time_directives(tmp_path: Path) -> None:
    directives = one_case_directives(tmp_path, "freeze time: 2019-03-04T05:06:07Z", "act: freeze time: now")
    assert [d.raw for d in directives if isinstance(d, FreezeTime)] == ["2019-03-04T05:06:07Z", "now"]


def test_freeze_time_values() -> None:
    assert freeze_target("now") is None
    assert freeze_target("2019-03-04T05:06:07Z") == datetime.datetime(2019, 3, 4, 5, 6, 7)
    assert freeze_target("2019-03-04T07:06:07+02:00") == datetime.datetime(2019, 3, 4, 5, 6, 7)
    assert freeze_target("2019-03-04 05:06") == datetime.datetime(2019, 3, 4, 5, 6)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("test name: t\nact: input: a: b\n", 1, "the test case 't' has no 'test description:' line"),
        ("test name: t\ntest description: d\n", 1, "the test case 't' has no action case"),
        ("act: input: a: b\n", 1, "outside a test case only global directives are allowed"),
        ("test name: t\ntest description: d\nact: input int: a: x\n", 3, "'x' is not a valid int"),
        ("test name: t\ntest description: d\nact: input regex: a: x\n", 3, "is for expectations only"),
        ("test name: t\ntest description: d\nmock: a.b: c: {bad\n", 3, "'{bad' is not JSON"),
        ("test name: t\ntest description: d\nmock: a.b: c: exception NoSuchError\n", 3, "not a built-in exception"),
        ("test name: t\ntest description: d\nmock: a.b: expect called: [1]\n", 3, "an expected call is JSON"),
        ("test name: t\ntest description: d\nact: input: a..b: 1\n", 3, "cannot read the path"),
        ("test name: t\ntest description: d\nfreeze time: next tuesday\n", 3, "cannot freeze time at 'next tuesday'"),
        (
            "test name: t\ntest description: d\nact: expect: exact error: code=A\nact: expect: error: code=B\n",
            4,
            "'exact' and non-'exact' error expectations cannot be mixed",
        ),
        (
            "test name: t\ntest description: d\nstub action: s: a: body: x: 1\nstub action: s: a: error: "
            "code=C, field=none, message=M\nact: input: a: 1\n",
            4,
            "the stub of s.a cannot have both a body and errors",
        ),
        (
            "test name: t\ntest description: d\nact: stub action: s: a: expect called:\n"
            "act: stub action: s: a: expect not called:\n",
            4,
            "'expect called' and 'expect not called' cannot be combined",
        ),
        (
            "test name: t\ntest description: d\nact: input: a: 1\n\n"
            "test name: t\ntest description: d\nact: input: a: 1\n",
            5,
            "the test name 't' is already used on line 1",
        ),
        ("test name: t\ntest description: d\ntest name: u\n", 3, "a second 'test name' in one test case"),
    ],
)
def test_mistakes_name_the_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    error = syntax_error(tmp_path, text)
    assert error.line_number == line
    assert message in error.msg
    assert str(error).startswith(f"{tmp_path / 'sample.pysoa'}:{line}: ")
    assert str(error).splitlines()[1].strip() == text.splitlines()[line - 1]


def test_a_missing_fixture_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureLoadError, match=r"Cannot read the test fixture .*missing\.pysoa"):
        parse_fixture_file(str(tmp_path / "missing.pysoa"))


def test_paths_put_and_get() -> None:
    assert split_path("a.{b.c}.0.{1}") == ["a", "b.c", 0, "1"]
    target: dict[str, object] = {}
    put_path(target, "a.b.1.c", 5)
    put_path(target, "a.{x.y}", "z")
    assert target == {"a": {"b": [None, {"c": 5}], "x.y": "z"}}
    assert get_path(target, "a.b.1.c") == 5
    assert get_path({"a": [1]}, "a.3") is get_path({}, "nothing")


@pytest.mark.parametrize(
    ("data_type", "raw", "value"),
    [
        ("int", "12", 12),
        ("int", "", 0),
        ("float", "1.5", 1.5),
        ("decimal", "2.25", decimal.Decimal("2.25")),
        ("bool", "True", True),
        ("bool", "no", False),
        ("bytes", "ab", b"ab"),
        ("base64_bytes", "aGk=", b"hi"),
        ("encoded_unicode", "caf\\u00e9", "café"),
        ("encoded_ascii", "a\\tb", "a\tb"),
        ("emptystr", None, ""),
        ("emptylist", None, []),
        ("emptydict", None, {}),
        ("none", None, None),
        ("None", "anything", None),
        ("date", "2021,12,25", datetime.date(2021, 12, 25)),
        ("datetime", "2021,12,25,1,2,3,4", datetime.datetime(2021, 12, 25, 1, 2, 3, 4)),
        ("time", "13,30", datetime.time(13, 30)),
        ("time", "midnight +0,3,30", datetime.time(3, 30)),
    ],
)
def test_data_types(data_type: str, raw: str | None, value: object) -> None:
    converted = convert(data_type, raw)
    assert converted == value
    assert type(converted) is type(value)


def test_relative_dates_and_times_drop_microseconds_and_take_offsets() -> None:
    now = convert("datetime", "now")
    assert now.microsecond == 0
    assert abs(now - datetime.datetime.now()) < datetime.timedelta(minutes=5)
    assert convert("datetime", "utc_now").tzinfo is datetime.UTC
    assert convert("datetime", "midnight +1,2") == datetime.datetime.combine(
        datetime.date.today(), datetime.time(2)
    ) + datetime.timedelta(days=1)
    assert convert("date", "today") == datetime.date.today()


def test_regex_values_and_conversion_errors() -> None:
    matcher = convert("regex", "^ab")
    assert isinstance(matcher, RegexValue)
    assert [matcher.matches(value) for value in ("abc", "cab", 1)] == [True, False, False]
    assert convert("not regex", "^ab").matches("cab")
    with pytest.raises(DataTypeConversionError, match="'x' is not a valid float"):
        convert("float", "x")
    with pytest.raises(DataTypeConversionError, match="a datetime needs a value"):
        convert("datetime", "")


def test_substitution_keeps_the_type_of_a_whole_value() -> None:
    values = {"n": 3, "s": "x"}
    assert substitute("[[n]]", values.__getitem__) == 3
    assert substitute("id-[[n]]-[[s]]", values.__getitem__) == "id-3-x"
