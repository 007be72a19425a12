"""How :func:`pysoa.test.stub_service.stub_action` intercepts calls.

Every call method of :class:`~pysoa.client.client.Client` sends its jobs through one seam,
``Client._send_job``; the non-blocking primitives are ``Client.send_request`` and
``Client.get_all_responses``. While at least one stub is active those three are replaced on the
class (so every client sees the stubs, including the ``request.client`` of a server under test),
and restored when the last stub stops.

A job naming a stubbed action is split: stubbed actions are answered by their mock, runs of
consecutive unstubbed actions go to the real service as smaller jobs of their own, and the
responses are put back together in order. The job is run in order, one piece after the other, so
``continue_on_error`` means what it means on a server: after an action with errors nothing more
runs (no mock is called, nothing more is sent) unless it is set.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pysoa.client.client import Client
from pysoa.common.types import ActionRequest, ActionResponse, Error, JobResponse
from pysoa.errors import ActionError, JobError, MessageReceiveTimeout

if TYPE_CHECKING:
    from unittest.mock import MagicMock

    from pysoa.client.client import PendingJob

__all__ = ["ActiveStub", "StubbedJob", "activate", "deactivate"]

_PATCHED = ("_send_job", "send_request", "get_all_responses")

_lock = threading.RLock()
_active: list[ActiveStub] = []  # in the order they started; a later one wins for the same action
_originals: dict[str, Any] = {}
# Stubbed jobs sent with Client.send_request, waiting for Client.get_all_responses, per
# (client's handler table, service, sending thread): what the real primitives key on too.
_primitive_jobs: dict[tuple[int, str, int], deque[StubbedJob]] = {}
# Request ids of stubbed primitive jobs are negative so that they never collide with real ones.
_request_ids = itertools.count(1)


class ActiveStub:
    """One started stub: answers calls of ``action`` on ``service`` with ``mock``."""

    __slots__ = ("action", "mock", "service")

    def __init__(self, service: str, action: str, mock: MagicMock) -> None:
        self.service = service
        self.action = action
        self.mock = mock

    def respond(self, body: Mapping[str, Any]) -> ActionResponse | JobResponse:
        """Call the mock with (a copy of) the request body and turn what it does into a response.

        An :class:`ActionError` becomes the action's errors and a :class:`JobError` the job's;
        any other exception propagates.
        """
        try:
            result = self.mock(_copied(dict(body)))
        except ActionError as exc:
            return ActionResponse(self.action, errors=exc.errors)
        except JobError as exc:
            return JobResponse(errors=exc.errors)
        if isinstance(result, ActionResponse | JobResponse):
            return result
        if result is None:
            return ActionResponse(self.action)
        if isinstance(result, Mapping):
            # A copy, so that a caller changing the response cannot change what the next call gets.
            return ActionResponse(self.action, body=_copied(dict(result)))
        raise TypeError(
            f"The stub of {self.service}.{self.action} returned {type(result).__name__}; "
            "return a body dict, an ActionResponse or a JobResponse"
        )


def _copied(value: dict[str, Any]) -> dict[str, Any]:
    try:
        return copy.deepcopy(value)
    except Exception:
        return dict(value)  # something in it cannot be copied; a shallow copy protects the top level


def activate(stub: ActiveStub) -> None:
    with _lock:
        if not _active:
            _install()
        _active.append(stub)


def deactivate(stub: ActiveStub) -> None:
    with _lock:
        for index, active in enumerate(_active):
            if active is stub:
                del _active[index]
                break
        if not _active:
            _uninstall()


def _install() -> None:
    for name in _PATCHED:
        _originals[name] = vars(Client)[name]
    # setattr: the replacements are plain functions whose first parameter is the client.
    replacements = (_stubbed_send_job, _stubbed_send_request, _stubbed_get_all_responses)
    for name, replacement in zip(_PATCHED, replacements, strict=True):
        setattr(Client, name, replacement)


def _uninstall() -> None:
    for name in _PATCHED:
        setattr(Client, name, _originals[name])
    # Responses of stubbed primitive jobs nobody collected die with the last stub.
    _primitive_jobs.clear()


def _stubs_for(service_name: str) -> dict[str, ActiveStub]:
    with _lock:
        return {stub.action: stub for stub in _active if stub.service == service_name}


def _action_name(action: Mapping[str, Any] | ActionRequest) -> str:
    return action.action if isinstance(action, ActionRequest) else str(action["action"])


class StubbedJob:
    """A job with at least one stubbed action, standing in for a :class:`PendingJob`."""

    def __init__(
        self,
        client: Client,
        service_name: str,
        job: dict[str, Any],
        timeout: float | None,
        stubs: Mapping[str, ActiveStub],
    ) -> None:
        self.request_id = -next(_request_ids)
        self._client = client
        self._service_name = service_name
        self._job = job
        self._timeout = timeout
        self._stubs = stubs
        self._actions: list[dict[str, Any]] = job["actions"]
        self._continue_on_error = bool(job["control"].get("continue_on_error"))
        self._next = 0  # index of the next action to run
        self._in_flight: PendingJob | None = None
        self._responses: list[ActionResponse] = []
        self._context: dict[str, Any] = {"correlation_id": job["context"].get("correlation_id")}
        self._job_errors: list[Error] = []
        self._failure: BaseException | None = None
        self._finished = False
        self._lock = threading.Lock()
        self._advance()

    def _advance(self) -> None:
        """Answer stubbed actions until a run of real ones has been sent or the job is over."""
        actions = self._actions
        while not self._finished and self._next < len(actions):
            stub = self._stubs.get(actions[self._next]["action"])
            if stub is None:
                end = self._next
                while end < len(actions) and actions[end]["action"] not in self._stubs:
                    end += 1
                piece = {**self._job, "actions": actions[self._next : end]}
                self._next = end
                self._in_flight = _originals["_send_job"](self._client, self._service_name, piece, self._timeout)
                return
            self._next += 1
            try:
                outcome = stub.respond(actions[self._next - 1].get("body") or {})
            except Exception as exc:
                # Raised when the response is waited for, as a transport error would be.
                self._failure = exc
                self._finished = True
                return
            if isinstance(outcome, JobResponse):
                self._take(outcome, actions[self._next - 1]["action"])
            else:
                self._add_actions([outcome])
        self._finished = True

    def _take(self, response: JobResponse, action_name: str | None = None) -> None:
        self._context.update(response.context)
        if response.errors:
            # A job error ends the job; like a server, keep none of its action responses.
            self._job_errors = list(response.errors)
            self._responses = []
            self._finished = True
        elif response.actions:
            self._add_actions(response.actions)
        elif action_name is not None:
            self._add_actions([ActionResponse(action_name)])

    def _add_actions(self, responses: Iterable[ActionResponse]) -> None:
        for response in responses:
            self._responses.append(response)
            if response.errors and not self._continue_on_error:
                self._finished = True

    def wait(self, timeout: float | None, give_up_on_timeout: bool = True) -> JobResponse:
        """:meth:`PendingJob.wait`: without ``give_up_on_timeout`` a timeout leaves the job waitable."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                if self._failure is not None:
                    raise self._failure
                pending = self._in_flight
                if pending is None:
                    return JobResponse(errors=self._job_errors, context=self._context, actions=self._responses)
                remaining = None
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        if give_up_on_timeout:
                            self.abandon()
                        raise MessageReceiveTimeout(f"Timed out waiting for a response from {self._service_name}")
                try:
                    response = pending.wait(remaining, give_up_on_timeout)
                except MessageReceiveTimeout:
                    if give_up_on_timeout:
                        self.abandon()
                    raise
                except BaseException:
                    self.abandon()
                    raise
                self._in_flight = None
                self._take(response)
                self._advance()

    def abandon(self) -> None:
        pending, self._in_flight = self._in_flight, None
        self._finished = True
        if pending is not None:
            pending.abandon()


# --- the replacements ------------------------------------------------------------------------------------------


def _stubbed_send_job(client: Client, service_name: str, job: dict[str, Any], timeout: float | None) -> Any:
    stubs = _stubs_for(service_name)
    if stubs and any(action["action"] in stubs for action in job["actions"]):
        return StubbedJob(client, service_name, job, timeout, stubs)
    return _originals["_send_job"](client, service_name, job, timeout)


def _stubbed_send_request(
    client: Client,
    service_name: str,
    actions: Iterable[Mapping[str, Any] | ActionRequest],
    switches: Iterable[Any] | None = None,
    correlation_id: str | None = None,
    continue_on_error: bool = False,
    context: Mapping[str, Any] | None = None,
    control_extra: Mapping[str, Any] | None = None,
    message_expiry_in_seconds: float | None = None,
    suppress_response: bool = False,
) -> Any:
    send_request: Callable[..., Any] = _originals["send_request"]
    actions = list(actions)
    switches = list(switches) if switches is not None else None
    stubs = _stubs_for(service_name)
    if not any(_action_name(action) in stubs for action in actions):
        return send_request(
            client,
            service_name,
            actions,
            switches,
            correlation_id,
            continue_on_error,
            context,
            control_extra,
            message_expiry_in_seconds,
            suppress_response,
        )
    job = client._make_job(
        actions,
        switches,
        correlation_id,
        continue_on_error,
        context,
        control_extra,
        message_expiry_in_seconds,
        suppress_response,
    )
    if suppress_response:
        # Nothing will wait for an answer, so there is no order to keep: call every mock, and send
        # the unstubbed actions as one job with no response.
        for action in job["actions"]:
            stub = stubs.get(action["action"])
            if stub is not None:
                stub.respond(action["body"])
        real = [action for action in job["actions"] if action["action"] not in stubs]
        if real:
            send_request(
                client,
                service_name,
                real,
                switches,
                job["context"]["correlation_id"],
                continue_on_error,
                context,
                control_extra,
                message_expiry_in_seconds,
                True,
            )
        return -next(_request_ids)
    stubbed = StubbedJob(client, service_name, job, message_expiry_in_seconds, stubs)
    key = (id(client.handlers), service_name, threading.get_ident())
    with _lock:
        _primitive_jobs.setdefault(key, deque()).append(stubbed)
    return stubbed.request_id


def _stubbed_get_all_responses(
    client: Client, service_name: str, receive_timeout_in_seconds: float | None = None
) -> Generator[tuple[Any, JobResponse]]:
    key = (id(client.handlers), service_name, threading.get_ident())
    while True:
        with _lock:
            queue = _primitive_jobs.get(key)
            stubbed = queue.popleft() if queue else None
            if queue is not None and not queue:
                del _primitive_jobs[key]
        if stubbed is None:
            break
        yield stubbed.request_id, stubbed.wait(receive_timeout_in_seconds)
    if service_name in client.settings:
        # A fully stubbed service need not be configured at all.
        yield from _originals["get_all_responses"](client, service_name, receive_timeout_in_seconds)
