"""How :func:`pysoa.test.stub_service.stub_action` intercepts calls.

Every call method of :class:`~pysoa.client.client.Client` sends its jobs through one seam,
``Client._send_job``; the non-blocking primitives are ``Client.send_request`` and
``Client.get_all_responses``. Every call method of :class:`~pysoa.client.AsyncClient` goes
through ``AsyncClient._call_job``. While at least one stub is active those are replaced on the
classes (so every client sees the stubs, including the ``request.client`` of a server under test,
sync or async), together with ``AsyncClient.send_request`` and ``AsyncClient.get_all_responses``,
and restored when the last stub stops.

A job naming a stubbed action is split: stubbed actions are answered by their mock when the job
is sent, the unstubbed actions a server would run go to the real service as one smaller job, and
the responses are put back together in order (see :class:`StubbedJob`).
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pysoa.client.async_client import AsyncClient
from pysoa.client.client import Client
from pysoa.common.types import ActionRequest, ActionResponse, Error, JobResponse
from pysoa.errors import ActionError, JobError, MessageReceiveTimeout

if TYPE_CHECKING:
    from unittest.mock import MagicMock

    from pysoa.client.client import PendingJob

__all__ = ["STUBBED_REQUESTS", "STUBBED_RESPONSES", "ActiveStub", "StubbedJob", "activate", "deactivate"]

# Every {service, action, body} stubbed actions received and answered, in order, while recording.
STUBBED_REQUESTS: list[dict[str, Any]] = []
STUBBED_RESPONSES: list[dict[str, Any]] = []

_PATCHED = ("_send_job", "send_request", "get_all_responses")
_ASYNC_PATCHED = ("_call_job", "send_request", "get_all_responses")

_lock = threading.RLock()
_active: list[ActiveStub] = []  # in the order they started; a later one wins for the same action
_originals: dict[str, Any] = {}
# Stubbed jobs sent with Client.send_request, waiting for Client.get_all_responses, per
# (client's handler table, service, sending thread): what the real primitives key on too.
_primitive_jobs: dict[tuple[int, str, int], deque[StubbedJob]] = {}
# The same for AsyncClient.send_request, per (client's handler table, service): each stubbed job, with the
# handler and request id of its real part when it has one.
_async_primitive_jobs: dict[tuple[int, str], deque[tuple[StubbedJob, Any, Any]]] = {}
# Request ids of stubbed primitive jobs are negative so that they never collide with real ones.
_request_ids = itertools.count(1)


class ActiveStub:
    """One started stub: answers calls of ``action`` on ``service`` with ``mock``.

    With ``record_requests`` / ``record_responses`` every request body it receives / response body
    it gives is added to :data:`STUBBED_REQUESTS` / :data:`STUBBED_RESPONSES` (PySOA's contract
    registries, for tests checking stubs against the real services' schemas).
    """

    __slots__ = ("action", "mock", "record_requests", "record_responses", "service")

    def __init__(
        self,
        service: str,
        action: str,
        mock: MagicMock,
        record_requests: bool = True,
        record_responses: bool = True,
    ) -> None:
        self.service = service
        self.action = action
        self.mock = mock
        self.record_requests = record_requests
        self.record_responses = record_responses

    def respond(self, body: Mapping[str, Any]) -> ActionResponse | JobResponse:
        """Call the mock with (a copy of) the request body and turn what it does into a response.

        An :class:`ActionError` becomes the action's errors and a :class:`JobError` the job's;
        any other exception propagates.
        """
        if self.record_requests:
            STUBBED_REQUESTS.append({"service": self.service, "action": self.action, "body": body})
        response = self._call_mock(body)
        if self.record_responses and isinstance(response, ActionResponse):
            STUBBED_RESPONSES.append({"service": self.service, "action": self.action, "body": response.body})
        return response

    def _call_mock(self, body: Mapping[str, Any]) -> ActionResponse | JobResponse:
        try:
            result = self.mock(_copied(dict(body)))
        except ActionError as exc:
            return ActionResponse(self.action, errors=exc.errors)
        except JobError as exc:
            return JobResponse(errors=exc.errors)
        if isinstance(result, ActionResponse):
            # A copy, so that a caller changing the response cannot change what the next call gets.
            return ActionResponse(result.action, errors=list(result.errors), body=_copied(dict(result.body)))
        if isinstance(result, JobResponse):
            return result
        if result is None:
            return ActionResponse(self.action)
        if isinstance(result, Mapping):
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
    # AsyncClient's call methods all go through its _call_job; its primitives are replaced as the sync ones.
    for name in _ASYNC_PATCHED:
        _originals[f"AsyncClient.{name}"] = vars(AsyncClient)[name]
    async_replacements = (_stubbed_call_job_async, _stubbed_send_request_async, _stubbed_get_all_responses_async)
    for name, replacement in zip(_ASYNC_PATCHED, async_replacements, strict=True):
        setattr(AsyncClient, name, replacement)


def _uninstall() -> None:
    for name in _PATCHED:
        setattr(Client, name, _originals[name])
    for name in _ASYNC_PATCHED:
        setattr(AsyncClient, name, _originals[f"AsyncClient.{name}"])
    # Responses of stubbed primitive jobs nobody collected die with the last stub.
    _primitive_jobs.clear()
    _async_primitive_jobs.clear()


def _stubs_for(service_name: str) -> dict[str, ActiveStub]:
    with _lock:
        return {stub.action: stub for stub in _active if stub.service == service_name}


def _action_name(action: Mapping[str, Any] | ActionRequest) -> str:
    return action.action if isinstance(action, ActionRequest) else str(action["action"])


class StubbedJob:
    """A job with at least one stubbed action, standing in for a :class:`PendingJob`.

    The mocks are called when the job is sent, in the order of the job's actions (as PySOA did),
    so that concurrent jobs consume a mock's side effects in the order they were sent. The real
    actions a server would run (those before the first stubbed failure, unless
    ``continue_on_error``) go to the service as one job; its response and the stubbed ones are put
    back together in order when the job is waited for, cut after the first failing action as a
    server would. The response's context is the real job's (empty when every action is stubbed).
    """

    def __init__(
        self,
        client: Client | AsyncClient,
        service_name: str,
        job: dict[str, Any],
        timeout: float | None,
        stubs: Mapping[str, ActiveStub],
    ) -> None:
        self.request_id = -next(_request_ids)
        self._service_name = service_name
        self._continue_on_error = bool(job["control"].get("continue_on_error"))
        # One slot per action that can run: a stubbed response, or None for the next real response.
        self._slots: list[ActionResponse | None] = []
        self._job_errors: list[Error] = []
        self._failure: BaseException | None = None
        self._result: JobResponse | None = None
        self._lock = threading.Lock()
        real: list[dict[str, Any]] = []
        for action in job["actions"]:
            stub = stubs.get(action["action"])
            if stub is None:
                real.append(action)
                self._slots.append(None)
                continue
            try:
                outcome = stub.respond(action.get("body") or {})
            except Exception as exc:
                # Raised when the response is waited for, as a transport error would be.
                self._failure = exc
                break
            if isinstance(outcome, JobResponse):
                if outcome.errors:
                    self._job_errors = list(outcome.errors)  # a job error ends the job
                    break
                # A job response answering one action: its first action response is the answer.
                outcome = outcome.actions[0] if outcome.actions else ActionResponse(action["action"])
            self._slots.append(outcome)
            if outcome.errors and not self._continue_on_error:
                break
        self._in_flight: PendingJob | None = None
        # The job of the actions a server would run, or None when every action is stubbed.
        self.real_job = {**job, "actions": real} if real else None
        if self.real_job is not None:
            self._send_real(client, service_name, self.real_job, timeout)

    def _send_real(self, client: Any, service_name: str, real_job: dict[str, Any], timeout: float | None) -> None:
        self._in_flight = _originals["_send_job"](client, service_name, real_job, timeout)

    def wait(self, timeout: float | None, give_up_on_timeout: bool = True) -> JobResponse:
        """:meth:`PendingJob.wait`: without ``give_up_on_timeout`` a timeout leaves the job waitable."""
        with self._lock:
            if self._failure is not None:
                self.abandon()
                raise self._failure
            if self._result is None:
                real: JobResponse | None = None
                pending = self._in_flight
                if pending is not None:
                    try:
                        real = pending.wait(timeout, give_up_on_timeout)
                    except MessageReceiveTimeout:
                        if give_up_on_timeout:
                            self.abandon()
                        raise
                    except BaseException:
                        self.abandon()
                        raise
                    self._in_flight = None
                self._result = self._merge(real)
            return self._result

    def _merge(self, real: JobResponse | None) -> JobResponse:
        context = dict(real.context) if real is not None else {}
        if self._job_errors:
            return JobResponse(errors=self._job_errors, context=context)
        if real is not None and real.errors:
            return JobResponse(errors=list(real.errors), context=context)
        real_actions = iter(real.actions if real is not None else ())
        merged: list[ActionResponse] = []
        for slot in self._slots:
            response = slot if slot is not None else next(real_actions, None)
            if response is None:
                break  # the server stopped before this real action
            merged.append(response)
            if response.errors and not self._continue_on_error:
                break
        return JobResponse(context=context, actions=merged)

    def abandon(self) -> None:
        pending, self._in_flight = self._in_flight, None
        if pending is not None:
            pending.abandon()


class _AsyncStubbedJob(StubbedJob):
    """A :class:`StubbedJob` of an :class:`AsyncClient`: its real part is awaited by the caller, not sent here."""

    def _send_real(self, client: Any, service_name: str, real_job: dict[str, Any], timeout: float | None) -> None:
        return


# --- the replacements ------------------------------------------------------------------------------------------


async def _stubbed_send_request_async(
    client: AsyncClient,
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
    """``AsyncClient.send_request`` while stubs are active (a suppressed response: every mock is called)."""
    actions = list(actions)
    stubs = _stubs_for(service_name)
    arguments = (switches, correlation_id, continue_on_error, context, control_extra, message_expiry_in_seconds)
    if not any(_action_name(action) in stubs for action in actions):
        return await _originals["AsyncClient.send_request"](
            client, service_name, actions, *arguments, suppress_response
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
        for action in job["actions"]:
            stub = stubs.get(action["action"])
            if stub is not None:
                stub.respond(action["body"])
        real = [action for action in job["actions"] if action["action"] not in stubs]
        if real:
            await _originals["AsyncClient.send_request"](client, service_name, real, *arguments, True)
        return -next(_request_ids)
    stubbed = _AsyncStubbedJob(client, service_name, job, message_expiry_in_seconds, stubs)
    handler = real_id = None
    if stubbed._failure is None and stubbed.real_job is not None:
        handler = client._get_handler(service_name)
        real_id = await handler.send_request(stubbed.real_job, message_expiry_in_seconds)
    _async_primitive_jobs.setdefault((id(client.handlers), service_name), deque()).append((stubbed, handler, real_id))
    return stubbed.request_id


async def _stubbed_get_all_responses_async(
    client: AsyncClient, service_name: str, receive_timeout_in_seconds: float | None = None
) -> AsyncIterator[tuple[Any, JobResponse]]:
    key = (id(client.handlers), service_name)
    queue = _async_primitive_jobs.get(key)
    while queue:
        stubbed, handler, real_id = queue.popleft()
        if stubbed._failure is not None:
            raise stubbed._failure
        real = None if handler is None else await handler.wait_for(real_id, receive_timeout_in_seconds)
        yield stubbed.request_id, stubbed._merge(real)
    _async_primitive_jobs.pop(key, None)
    if service_name in client.settings:
        # A fully stubbed service need not be configured at all.
        async for response in _originals["AsyncClient.get_all_responses"](
            client, service_name, receive_timeout_in_seconds
        ):
            yield response


async def _stubbed_call_job_async(
    client: AsyncClient, service_name: str, job: dict[str, Any], timeout: float | None
) -> JobResponse:
    """``AsyncClient._call_job`` while stubs are active: stubbed actions answered, the rest really called."""
    original = _originals["AsyncClient._call_job"]
    stubs = _stubs_for(service_name)
    if not stubs or not any(action["action"] in stubs for action in job["actions"]):
        response: JobResponse = await original(client, service_name, job, timeout)
        return response
    stubbed = _AsyncStubbedJob(client, service_name, job, timeout, stubs)
    if stubbed._failure is not None:
        raise stubbed._failure
    real = None if stubbed.real_job is None else await original(client, service_name, stubbed.real_job, timeout)
    return stubbed._merge(real)


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
