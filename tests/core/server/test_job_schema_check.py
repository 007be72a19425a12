"""The plain-Python check in front of the job request schema never lets an invalid job through."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pysoa.server.schemas import JobRequestSchema, job_request_errors, looks_valid

# Values of every wire type: the near misses the check decides on (bools as numbers, bytes as strings, ...).
_ANY = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.floats(allow_nan=False), st.text(max_size=2), st.binary(max_size=2)
)
_VALID_JOBS = st.fixed_dictionaries(
    {
        "control": st.fixed_dictionaries(
            {"continue_on_error": st.booleans()},
            optional={"suppress_response": st.booleans(), "deadline": st.one_of(st.floats(), st.integers())},
        ),
        "context": st.fixed_dictionaries(
            {"switches": st.lists(st.integers(0, 9), max_size=3), "correlation_id": st.text(max_size=3)},
            optional={"caller": st.text(max_size=2), "calling_service": st.text(max_size=2), "extra": _ANY},
        ),
        "actions": st.lists(
            st.fixed_dictionaries(
                {"action": st.text(max_size=3)}, optional={"body": st.dictionaries(st.text(max_size=2), _ANY)}
            ),
            min_size=1,
            max_size=2,
        ),
    }
)
# Where one value of a valid job is replaced to make a near miss.
_PLACES: list[tuple[Any, ...]] = [
    ("control",),
    ("control", "continue_on_error"),
    ("control", "suppress_response"),
    ("control", "deadline"),
    ("context",),
    ("context", "switches"),
    ("context", "correlation_id"),
    ("context", "caller"),
    ("context", "calling_service"),
    ("actions",),
    ("actions", 0),
    ("actions", 0, "action"),
    ("actions", 0, "body"),
    ("actions", 0, "other"),
    ("other",),
]


@st.composite
def _near_misses(draw: st.DrawFn) -> dict[str, Any]:
    job = copy.deepcopy(draw(_VALID_JOBS))
    *path, last = draw(st.sampled_from(_PLACES))
    parent: Any = job
    for step in path:
        parent = parent[step]
    parent[last] = draw(st.one_of(_ANY, st.lists(_ANY, max_size=1), st.dictionaries(_ANY, _ANY, max_size=1)))
    return job


@settings(max_examples=600)
@given(job=st.one_of(_VALID_JOBS, _near_misses()))
def test_a_job_that_looks_valid_has_no_schema_errors(job: dict[str, Any]) -> None:
    schema_errors = list(JobRequestSchema.errors(job))
    if looks_valid(job):
        assert schema_errors == []
    assert [(e.code, e.pointer) for e in job_request_errors(job)] == [(e.code, e.pointer) for e in schema_errors]


def test_the_usual_job_looks_valid_and_a_wrong_caller_does_not() -> None:
    job: dict[str, Any] = {
        "control": {"continue_on_error": False, "suppress_response": False},
        "context": {"switches": [], "correlation_id": "c", "caller": "x", "calling_service": "y"},
        "actions": [{"action": "echo", "body": {"id": 1}}],
    }
    assert looks_valid(job)
    for key in ("caller", "calling_service"):
        assert not looks_valid({**job, "context": {**job["context"], key: 1}})
