"""Building job requests and reading job responses: what the sync and the async client share. No I/O."""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from pysoa.client._chain import current_chained_context
from pysoa.common._deadline import CALL_MARGIN_SECONDS, DEADLINE_CONTROL_KEY, TIMEOUT_CONTROL_KEY
from pysoa.common.switches import get_switch
from pysoa.common.types import ActionRequest, ActionResponse, Error, JobResponse
from pysoa.errors import CallActionError, CallJobError, MessageReceiveTimeout, TransportError

__all__ = [
    "action_outcome",
    "action_outcomes",
    "build_job",
    "capped_timeout",
    "checked_responses",
    "jobs_per_action",
    "raise_for_errors",
    "reusable_switches",
]

_random_bits = random.getrandbits


def _with_chained(chained: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """The context of the request being handled, overridden by the client's own; switches from both."""
    merged = {**chained, **own}
    chained_switches = chained.get("switches")
    own_switches = own.get("switches")
    if chained_switches and own_switches:
        merged["switches"] = [*chained_switches, *own_switches]
    return merged


def reusable_switches(switches: Iterable[Any] | None) -> Iterable[Any] | None:
    """``switches`` in a form that can be read more than once: a call that builds several jobs (parallel jobs,
    expansions) reads them for each, and a generator would give them to the first job only."""
    if switches is None or isinstance(switches, Collection):
        return switches
    return tuple(switches)


def build_job(
    base: Mapping[str, Any],
    actions: Iterable[Mapping[str, Any] | ActionRequest],
    switches: Iterable[Any] | None,
    correlation_id: str | None,
    continue_on_error: bool,
    context: Mapping[str, Any] | None,
    control_extra: Mapping[str, Any] | None,
    timeout: float | None,
    suppress_response: bool,
) -> dict[str, Any]:
    """A job request dict: ``base`` is the client's context, merged with the call's ``context`` and switches.

    While a request is being handled (:mod:`pysoa.client._chain`), its context comes first, under
    ``base``. A call with a ``timeout`` carries it (``control.timeout``) and its deadline on this
    host's wall clock (``control.deadline``), unless ``control_extra`` already sets them.
    """
    chained = current_chained_context()
    if chained is not None and chained is not base:
        base = _with_chained(chained, base)
    control: dict[str, Any] = {
        "continue_on_error": bool(continue_on_error),
        "suppress_response": bool(suppress_response),
    }
    if control_extra:
        control.update(control_extra)
    if timeout:
        control.setdefault(TIMEOUT_CONTROL_KEY, timeout)
        # Where the caller stops waiting, for servers to share with their own calls (PySOA ignores it).
        control.setdefault(DEADLINE_CONTROL_KEY, time.time() + timeout)

    new_context: dict[str, Any] = dict(base)
    # A new correlation id is 128 random bits in hex, as many as a UUID4 carries. It only has to be unique, not
    # unguessable, so the ``random`` module (reseeded in forked children) does instead of a ``getrandom`` system call
    # per call; made here rather than by a function of its own, a call less per request.
    new_context["correlation_id"] = (
        correlation_id or base.get("correlation_id") or _random_bits(128).to_bytes(16, "big").hex()
    )
    base_switches = base.get("switches")
    extra_switches = None
    if context:
        extra = dict(context)
        extra_switches = extra.pop("switches", None)
        new_context.update((str(k), v) for k, v in extra.items())
    if base_switches or switches or extra_switches:
        switch_set: set[int] = {get_switch(s) for s in base_switches or ()}
        if switches:
            switch_set.update(get_switch(s) for s in switches)
        if extra_switches:
            switch_set.update(get_switch(s) for s in extra_switches)
        new_context["switches"] = sorted(switch_set)
    else:
        new_context["switches"] = []

    action_dicts: list[dict[str, Any]] = []
    for action in actions:
        if isinstance(action, ActionRequest):
            action_dicts.append({"action": action.action, "body": action.body})
        else:
            action_dicts.append({"action": action["action"], "body": action.get("body") or {}})
    if not action_dicts:
        raise ValueError("A job needs at least one action")
    return {"control": control, "context": new_context, "actions": action_dicts}


def capped_timeout(deadline: float | None, timeout: float | None, service_name: str | None) -> float | None:
    """The timeout a call really gets: its own, capped by the client's ``deadline`` less the margin.

    Raises :class:`MessageReceiveTimeout` when less than :data:`CALL_MARGIN_SECONDS` is left
    (``service_name`` ``None`` stands for parallel jobs in the message).
    """
    if deadline is None:
        return timeout
    left = deadline - time.monotonic() - CALL_MARGIN_SECONDS
    if left <= 0:
        what = "parallel jobs" if service_name is None else f"a call to {service_name!r}"
        raise MessageReceiveTimeout(
            f"No time left for {what}: the deadline is "
            f"{max(left + CALL_MARGIN_SECONDS, 0.0):.3f} s away, within the {CALL_MARGIN_SECONDS} s margin"
        )
    return left if not timeout or timeout > left else timeout


def raise_for_errors(response: JobResponse, raise_job_errors: bool, raise_action_errors: bool) -> None:
    if response.errors and raise_job_errors:
        raise CallJobError(response.errors)
    if raise_action_errors:
        for action in response.actions:
            if action.errors:
                raise CallActionError([failed for failed in response.actions if failed.errors])


def checked_responses(
    results: Iterable[JobResponse | TransportError], raise_job_errors: bool, raise_action_errors: bool
) -> list[JobResponse]:
    """The job responses among parallel results, once none has an error that is to be raised."""
    responses = [result for result in results if isinstance(result, JobResponse)]
    for response in responses:
        raise_for_errors(response, raise_job_errors, raise_action_errors)
    return responses


def jobs_per_action(service_name: str, actions: Iterable[Mapping[str, Any] | ActionRequest]) -> list[dict[str, Any]]:
    """``call_actions_parallel``: each action becomes its own job, so several servers can run them at once."""
    return [{"service_name": service_name, "actions": [action]} for action in actions]


def action_outcome(response: JobResponse) -> ActionResponse | list[Error]:
    """What a one-action job answers: its action response, or the job errors (when they were not raised)."""
    if response.errors:
        return response.errors
    return response.actions[0]


def action_outcomes(
    results: Iterable[JobResponse | TransportError],
) -> list[ActionResponse | list[Error] | TransportError]:
    """``call_actions_parallel``'s answer from the responses of its one-action jobs (transport errors kept)."""
    return [result if isinstance(result, TransportError) else action_outcome(result) for result in results]
