"""A future remembers its outcome: an error raised once is raised again, without asking the transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pysoa.client import Client
from pysoa.client.client import FutureSOAResponse
from pysoa.errors import CallActionError, CallJobError
from tests.core.services import local_client

FAILING_CALLS: dict[str, tuple[Callable[[Client], FutureSOAResponse], type[Exception]]] = {
    "call_action_future": (lambda c: c.call_action_future("example", "fail"), CallActionError),
    "call_actions_future": (lambda c: c.call_actions_future("example", [{"action": "fail"}]), CallActionError),
    "job error": (lambda c: c.call_actions_future("example", [{"action": "job_fail"}]), CallJobError),
    "call_actions_parallel_future": (
        lambda c: c.call_actions_parallel_future("example", [{"action": "echo"}, {"action": "fail"}]),
        CallActionError,
    ),
    "call_jobs_parallel_future": (
        lambda c: c.call_jobs_parallel_future([{"service_name": "example", "actions": [{"action": "job_fail"}]}]),
        CallJobError,
    ),
}  # fmt: skip


@pytest.mark.parametrize("make_future", FAILING_CALLS.values(), ids=FAILING_CALLS.keys())
def test_an_error_is_raised_again_by_every_later_result(make_future: Any) -> None:
    call, error_class = make_future
    future = call(local_client())
    with pytest.raises(error_class) as first:
        future.result(timeout=5)
    assert future.done()
    with pytest.raises(error_class) as second:
        future.result(timeout=5)
    assert second.value is first.value
    assert future.exception(timeout=5) is first.value


def test_a_result_is_returned_again_by_every_later_result() -> None:
    future = local_client().call_action_future("example", "square", {"number": 3})
    first = future.result(timeout=5)
    assert future.result(timeout=5) is first
    assert future.exception() is None
