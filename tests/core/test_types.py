"""Job and action responses built from wire dicts: ``from_dict`` skips attrs' ``__init__`` but must match it."""

from __future__ import annotations

from typing import Any

import attr
import pytest

from pysoa.common.types import ActionResponse, Error, JobResponse

ERROR_DICT = {
    "code": "INVALID",
    "message": "bad",
    "field": "x",
    "traceback": None,
    "variables": None,
    "denied_permissions": None,
    "is_caller_error": True,
}


@pytest.mark.parametrize(
    "wire",
    [
        {
            "errors": [],
            "context": {"correlation_id": "c"},
            "actions": [{"action": "a", "errors": [], "body": {"x": 1}}],
        },
        {"errors": [ERROR_DICT], "context": {}, "actions": []},
        {"actions": [{"action": "a", "errors": [ERROR_DICT], "body": None}, {"action": "b"}]},
        {"errors": None, "context": None, "actions": None},
        {},
    ],
)
def test_from_dict_builds_what_the_attrs_init_builds(wire: dict[str, Any]) -> None:
    expected = JobResponse(wire.get("errors"), wire.get("context"), wire.get("actions"))
    built = JobResponse.from_dict(wire)
    assert type(built) is JobResponse
    assert built == expected
    assert attr.asdict(built) == attr.asdict(expected)
    for action in built.actions:
        assert type(action) is ActionResponse
        assert all(type(error) is Error for error in action.errors)


def test_from_dict_keeps_the_wire_containers_and_makes_fresh_empty_ones() -> None:
    context = {"correlation_id": "c"}
    body = {"x": 1}
    action_errors: list[Any] = []
    wire = {"errors": [], "context": context, "actions": [{"action": "a", "errors": action_errors, "body": body}]}
    first, second = JobResponse.from_dict(wire), JobResponse.from_dict(wire)
    # As the attrs converters do: the wire's dicts are kept, not copied; an empty list is a fresh one each time.
    assert first.context is context
    assert first.actions[0].body is body
    assert first.errors is not second.errors
    assert first.actions[0].errors is not action_errors


def test_from_dict_accepts_responses_and_errors_already_built() -> None:
    action = ActionResponse("a", [Error(code="X")], {"y": 2})
    built = JobResponse.from_dict({"errors": [Error(code="J"), ERROR_DICT], "actions": [action, {"action": "b"}]})
    assert built.actions[0] is action
    assert [e.code for e in built.errors] == ["J", "INVALID"]
    assert ActionResponse.from_dict({"action": "b", "errors": [Error(code="X")]}).errors == [Error(code="X")]


@attr.s(slots=True, auto_attribs=True)
class TracedJobResponse(JobResponse):
    trace: str = "none"


@attr.s(slots=True, auto_attribs=True)
class TimedActionResponse(ActionResponse):
    elapsed: float = 0.0


def test_subclasses_with_extra_fields_are_built_through_their_init() -> None:
    job = TracedJobResponse.from_dict({"context": {"c": 1}})
    assert type(job) is TracedJobResponse
    assert (job.trace, job.context) == ("none", {"c": 1})
    action = TimedActionResponse.from_dict({"action": "a", "body": None})
    assert type(action) is TimedActionResponse
    assert (action.elapsed, action.body) == (0.0, {})


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ({"actions": 5}, TypeError),
        ({"actions": [{"body": {}}]}, KeyError),
        ({"actions": ["echo"]}, TypeError),
        ({"errors": [1]}, AttributeError),
        ({"actions": [{"action": "a", "errors": ["bad"]}]}, AttributeError),
        ([], AttributeError),
    ],
)
def test_a_malformed_response_raises_what_the_client_turns_into_invalid_message(wire: Any, error: type) -> None:
    # The clients catch exactly (KeyError, TypeError, AttributeError, ValueError) as a malformed response.
    with pytest.raises(error):
        JobResponse.from_dict(wire)
