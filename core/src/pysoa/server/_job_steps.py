"""The I/O-free steps of running a job, shared by the one-job-at-a-time and the concurrent worker.

Both workers run a job's actions in the same order with the same rules (deadline per action,
``continue_on_error``, runtime figures) and answer failures with the same errors; they differ only
in how an action is run (called, or awaited) and in what interrupts it. This module holds what
they share, so that each worker's loop is the few lines that differ.
"""

from __future__ import annotations

import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from pysoa.common._deadline import job_deadline
from pysoa.common.constants import (
    ERROR_CODE_ACTION_TIMEOUT,
    ERROR_CODE_DEADLINE_EXCEEDED,
    ERROR_CODE_JOB_TIMEOUT,
    ERROR_CODE_SERVER_ERROR,
    ERROR_CODE_UNKNOWN,
)
from pysoa.common.switches import RequestSwitchSet
from pysoa.common.types import ActionResponse, Error, JobResponse
from pysoa.server.runtime_stats import RuntimeStats
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest

__all__ = [
    "NO_SWITCHES",
    "ActionRequestFactory",
    "JobActions",
    "action_interrupted",
    "action_too_late",
    "deadline_exceeded",
    "has_errors",
    "job_deadline_and_lateness",
    "job_switches",
    "job_timed_out",
    "server_error",
    "unknown_action",
    "with_correlation_id",
]

# Builds the request one action gets: (job request, action name, body, switches, deadline).
ActionRequestFactory: TypeAlias = Callable[
    [EnrichedJobRequest, str, dict[str, Any], RequestSwitchSet, "float | None"], EnrichedActionRequest
]


# The switch set of every job without switches (most jobs): one shared set rather than one built per job.
NO_SWITCHES = RequestSwitchSet()


class JobActions:
    """The actions of one job, in order: which to run next, and the job response they add up to.

    A worker asks :meth:`next_request` for the next action to run (``None`` when the job is done),
    runs it and reports :meth:`finished` with its response, or :meth:`interrupted` when harakiri
    stopped it (the job then ends). An action whose turn comes after the job's deadline is not run:
    it gets a ``DEADLINE_EXCEEDED`` error and the job stops there, even with ``continue_on_error``.
    """

    __slots__ = (
        "_continue_on_error",
        "_deadline",
        "_done",
        "_job_request",
        "_make_request",
        "_name",
        "_pending",
        "_responses",
        "_runtime_stats",
        "_started",
        "_stats",
        "_switches",
    )

    def __init__(
        self,
        job_request: EnrichedJobRequest,
        make_request: ActionRequestFactory,
        stats: Counter[str],
        runtime_stats: RuntimeStats,
    ) -> None:
        self._job_request = job_request
        self._make_request = make_request
        self._stats = stats
        self._runtime_stats = runtime_stats
        self._continue_on_error = job_request.control.get("continue_on_error", False)
        self._switches = job_switches(job_request.context["switches"])
        # Job middleware may hand on a request object of its own making, without a deadline.
        self._deadline: float | None = getattr(job_request, "deadline", None)
        self._pending = iter(job_request.actions)
        self._responses: list[ActionResponse] = []
        self._name = ""
        self._started = 0.0
        self._done = False

    def next_request(self) -> EnrichedActionRequest | None:
        """The request of the next action to run, or ``None`` when the job has no more to run."""
        if self._done:
            return None
        action_request = next(self._pending, None)
        if action_request is None:
            return None
        name = action_request.action
        deadline = self._deadline
        if deadline is not None:
            too_late = action_too_late(name, deadline, self._stats)
            if too_late is not None:
                self._responses.append(too_late)
                self._done = True
                return None
        request = self._make_request(self._job_request, name, action_request.body, self._switches, deadline)
        self._name = name
        self._started = time.perf_counter()
        return request

    def finished(self, response: ActionResponse) -> None:
        """The action last handed out answered ``response``."""
        self._runtime_stats.action_finished(self._name, time.perf_counter() - self._started, response)
        self._responses.append(response)
        if response.errors and not self._continue_on_error:
            self._done = True

    def interrupted(self) -> None:
        """Harakiri stopped the action last handed out: the worker is going down, so nothing more runs."""
        self._responses.append(action_interrupted(self._name, self._stats))
        self._done = True

    def response(self) -> JobResponse:
        return JobResponse._of_actions(self._responses)


def job_deadline_and_lateness(control: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """``(deadline, late_by)`` of a job on arrival: its ``time.monotonic()`` deadline (``None`` when its ``control``
    sets none) and, when that has already come, by how many seconds (else ``None``). Such a job must not run."""
    now = time.monotonic()
    deadline = job_deadline(control, now, time.time())
    if deadline is None or deadline > now:
        return deadline, None
    return deadline, now - deadline


def action_too_late(name: str, deadline: float, stats: Counter[str]) -> ActionResponse | None:
    """The response of action ``name`` when its turn comes at or after the job's ``deadline`` (it is then not run,
    and the job stops there; counted in ``stats``), else ``None``."""
    late_by = time.monotonic() - deadline
    if late_by < 0:
        return None
    stats["deadline_exceeded.action"] += 1
    return ActionResponse(name, errors=[deadline_exceeded(f'action "{name}"', late_by)])


def job_switches(switches: Any) -> RequestSwitchSet:
    """The switch set of a job whose context carries ``switches`` (a list of ints, as the job schema has it)."""
    return NO_SWITCHES if type(switches) is list and not switches else RequestSwitchSet(switches)


def action_interrupted(name: str, stats: Counter[str]) -> ActionResponse:
    """The response of action ``name``, which harakiri stopped (counted in ``stats``)."""
    stats["harakiri.action"] += 1
    return ActionResponse(
        name,
        errors=[
            Error(
                code=ERROR_CODE_ACTION_TIMEOUT,
                message=f'The action "{name}" ran for too long and had to be interrupted.',
                is_caller_error=False,
            )
        ],
    )


def has_errors(response: JobResponse) -> bool:
    """Whether the job failed: it has job errors, or any of its actions has errors."""
    if response.errors:
        return True
    for action in response.actions:  # noqa: SIM110 - a loop costs less than any() over a generator
        if action.errors:
            return True
    return False


def with_correlation_id(response: JobResponse, context: Mapping[str, Any]) -> JobResponse:
    correlation_id = context.get("correlation_id")
    if correlation_id is not None:
        response.context["correlation_id"] = correlation_id
    return response


def deadline_exceeded(what: str, late_by: float) -> Error:
    return Error(
        code=ERROR_CODE_DEADLINE_EXCEEDED,
        message=f"The request's deadline passed {late_by:.3f} s before the {what} could start; it was not run.",
        is_caller_error=False,
    )


def server_error(exc: BaseException, variables: Mapping[str, Any] | None = None) -> Error:
    return Error(
        code=ERROR_CODE_SERVER_ERROR,
        message=f"Internal server error: {exc}",
        traceback="".join(traceback.format_exception(exc)),
        variables=dict(variables) if variables else None,
        is_caller_error=False,
    )


def job_timed_out() -> JobResponse:
    return JobResponse(
        errors=[
            Error(
                code=ERROR_CODE_JOB_TIMEOUT,
                message="The service job ran for too long and had to be interrupted (probably a middleware issue).",
                is_caller_error=False,
            )
        ]
    )


def unknown_action(name: str) -> ActionResponse:
    return ActionResponse(
        name,
        errors=[
            Error(
                code=ERROR_CODE_UNKNOWN,
                message=f'The action "{name}" was not found on this server.',
                field="action",
                is_caller_error=True,
            )
        ],
    )
