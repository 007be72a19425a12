"""The client: builds job requests, sends them through a transport, and matches up the responses."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from pysoa.client._core import ClientCore, HandlerCore
from pysoa.client._jobs import (
    action_outcome,
    action_outcomes,
    checked_responses,
    jobs_per_action,
    raise_for_errors,
    reusable_switches,
)
from pysoa.client.middleware import ClientMiddleware
from pysoa.client.settings import ClientSettings
from pysoa.common.middleware.client import ClientRequestMiddlewareTask, ClientResponseMiddlewareTask
from pysoa.common.transport.base import ClientTransport
from pysoa.common.transport.message import ResponseRouter, deadline_after, time_left
from pysoa.common.types import ActionRequest, ActionResponse, Error, JobRequest, JobResponse
from pysoa.errors import InvalidMessageError, MessageReceiveTimeout, TransportError

__all__ = ["Client", "FutureSOAResponse", "PendingJob", "ServiceHandler"]

# Bound once: looking a classmethod up binds it anew on every call (one per response).
_job_response_from_dict = JobResponse.from_dict

_T = TypeVar("_T")
# The receive timeout of the one look a wait takes when its time is already up.
_LAST_LOOK_SECONDS = 0.001
_UNSET: Any = object()


class FutureSOAResponse:
    """The pending result of a call made with a ``*_future`` method.

    ``result()`` blocks until the response arrives (or the call's timeout passes). A
    :class:`MessageReceiveTimeout` is raised but not remembered, so ``result()`` may be called
    again and still get the response; any other outcome, success or error, is remembered. Once a
    future that timed out is dropped, its response, should it come, is discarded.
    """

    def __init__(
        self,
        get_response: Callable[[float | None, bool], Any],
        abandon: Callable[[], None] | None = None,
    ) -> None:
        self._get_response = get_response
        self._abandon = abandon
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._result: Any = _UNSET
        self._exception: BaseException | None = None
        self._lock = threading.Lock()

    def result(self, timeout: float | None = None) -> Any:
        return self._resolve(timeout, give_up_on_timeout=False)

    def _resolve(self, timeout: float | None, give_up_on_timeout: bool) -> Any:
        """Wait for the outcome; with ``give_up_on_timeout`` a timeout also abandons the request."""
        with self._lock:
            if self._exception is not None:
                raise self._exception
            if self._result is not _UNSET:
                return self._result
            try:
                self._result = self._get_response(timeout, give_up_on_timeout)
            except MessageReceiveTimeout:
                if not give_up_on_timeout and self._abandon is not None and self._finalizer is None:
                    self._finalizer = weakref.finalize(self, self._abandon)
                raise
            except Exception as exc:
                self._exception = exc
                raise
            if self._finalizer is not None:
                self._finalizer.detach()
            return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        try:
            self.result(timeout)
        except MessageReceiveTimeout:
            raise
        except Exception as exc:
            return exc
        return None

    def running(self) -> bool:
        return not self.done()

    def done(self) -> bool:
        return self._result is not _UNSET or self._exception is not None


class PendingJob:
    """A job that was sent and whose response can be waited for (or abandoned)."""

    __slots__ = ("handler", "request_id")

    def __init__(self, handler: ServiceHandler, request_id: Any) -> None:
        self.handler = handler
        self.request_id = request_id

    def wait(self, timeout: float | None, give_up_on_timeout: bool = True) -> JobResponse:
        return self.handler.wait_for(self.request_id, timeout, give_up_on_timeout)

    def abandon(self) -> None:
        self.handler.abandon(self.request_id)


class ServiceHandler(HandlerCore[ClientSettings, ClientRequestMiddlewareTask, ClientResponseMiddlewareTask]):
    """One per service per client: the transport, the middleware stacks, and response routing.

    Responses are routed by request id: while a thread waits for one request's response, responses
    to its other outstanding requests are kept for their own callers, and responses nobody waits
    for any more (their caller timed out) are dropped. A transport delivers to each thread the
    responses to the requests sent from that thread.
    """

    transport: ClientTransport
    middleware: list[ClientMiddleware]

    def __init__(self, service_name: str, settings: ClientSettings) -> None:
        super().__init__(service_name, settings, self._base_send_request, self._base_get_response)
        # request id -> ident of the thread that sent it (that thread's transport queue gets the reply),
        # and responses one waiter received on behalf of another
        self._router: ResponseRouter[int, JobResponse] = ResponseRouter()
        # Without middleware (and with this class's own innermost steps), sends and receives call the transport
        # directly rather than through the (empty) stacks.
        cls = type(self)
        self._direct = (
            not self._has_middleware
            and cls._base_send_request is ServiceHandler._base_send_request
            and cls._base_get_response is ServiceHandler._base_get_response
        )

    # --- sending ---------------------------------------------------------------------------------

    def send_request(
        self,
        job_request: JobRequest | dict[str, Any],
        message_expiry_in_seconds: float | None = None,
        expect_response: bool = True,
    ) -> Any:
        """Send a job; returns its request id.

        Without ``expect_response`` the request is not registered with the router: either no response is to
        come, or the caller waits for it itself, unregistered (the blocking call, :meth:`_receive`).
        """
        request_id, meta, job_request = self.new_request(job_request)
        try:
            if self._direct:
                # No middleware: the job dict goes to the transport without the stack's two calls.
                body = job_request if type(job_request) is dict else self.wire_body(job_request)
                self.transport.send_request_message(request_id, meta, body, message_expiry_in_seconds)
            else:
                self._send_stack(request_id, meta, job_request, message_expiry_in_seconds)  # type: ignore[arg-type]
        except BaseException:
            self._router.abandon(request_id)
            raise
        if expect_response:
            # Registered once the request is written, while its reply is on its way rather than before the write:
            # only this thread receives that reply, and only in wait_for, after this returns.
            self._router.expect(request_id, threading.get_ident())
        return request_id

    def _base_send_request(
        self,
        request_id: Any,
        meta: dict[str, Any],
        job_request: JobRequest | dict[str, Any],
        message_expiry_in_seconds: float | None = None,
    ) -> None:
        self.transport.send_request_message(request_id, meta, self.wire_body(job_request), message_expiry_in_seconds)

    # --- receiving ---------------------------------------------------------------------------------

    def _base_get_response(self, receive_timeout_in_seconds: float | None = None) -> tuple[Any, JobResponse | None]:
        request_id, _meta, body = self.transport.receive_response_message(receive_timeout_in_seconds)
        if body is None:
            return None, None
        try:
            return request_id, _job_response_from_dict(body)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise self._malformed(exc) from exc

    def _malformed(self, exc: Exception) -> InvalidMessageError:
        return InvalidMessageError(f"Malformed job response from {self.service_name}: {exc}")

    def abandon(self, request_id: Any) -> None:
        """Stop waiting for ``request_id``: its response, should it still come, is dropped."""
        self._router.abandon(request_id)

    def wait_for(self, request_id: Any, timeout: float | None = None, give_up_on_timeout: bool = True) -> JobResponse:
        """Block until the response to ``request_id`` arrives; raise :class:`MessageReceiveTimeout` after ``timeout``.

        ``timeout`` ``None`` means the transport's own receive timeout for each read. With
        ``give_up_on_timeout`` a timeout also abandons the request; otherwise its response is
        still kept for a later wait.
        """
        return self._receive(
            request_id, None if timeout is None else time.monotonic() + timeout, give_up_on_timeout, True
        )

    def _receive(
        self, request_id: Any, deadline: float | None, give_up_on_timeout: bool, registered: bool
    ) -> JobResponse:
        """Receive until the response to ``request_id`` comes, or ``deadline`` (``time.monotonic()``) passes.

        A ``registered`` request (:meth:`wait_for`) is looked for among the parked responses first, and is
        waited for only while the router still expects it. The blocking call waits for its request
        unregistered (sent without ``expect_response``): nobody else can wait for it or give up on it (it
        has no :class:`PendingJob`), and this thread is the only one its reply comes to, here. A response
        to another request goes through the router either way (kept for its caller, or dropped when
        nobody waits for it any more).
        """
        started = time.monotonic()
        looked = False
        router = self._router
        while True:
            if registered:
                try:
                    response = router.claim(request_id)
                except KeyError:
                    raise MessageReceiveTimeout(
                        f"No response to request {request_id} is outstanding for {self.service_name}"
                    ) from None
                if response is not None:
                    return response
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and not looked:
                    # Out of time, but the response may be waiting in the transport (a future whose
                    # result is asked for late): one look that does not block.
                    remaining, looked = _LAST_LOOK_SECONDS, True
                elif remaining <= 0:
                    if give_up_on_timeout:
                        self.abandon(request_id)
                    raise MessageReceiveTimeout(
                        f"No response from {self.service_name!r} after waiting {time.monotonic() - started:.3f} s"
                    )
            try:
                if self._direct:
                    # _base_get_response's steps, without the call: once per response.
                    got_id, _meta, body = self.transport.receive_response_message(remaining)
                    try:
                        got = None if body is None else _job_response_from_dict(body)
                    except (KeyError, TypeError, AttributeError, ValueError) as exc:
                        raise self._malformed(exc) from exc
                else:
                    got_id, got = self._receive_stack(remaining)
            except MessageReceiveTimeout as exc:
                if give_up_on_timeout:
                    self.abandon(request_id)
                raise MessageReceiveTimeout(
                    f"No response from {self.service_name!r} after waiting {time.monotonic() - started:.3f} s: {exc}"
                ) from exc
            if got is None:
                # The transport has nothing outstanding for this thread: the response cannot come.
                self.abandon(request_id)
                raise MessageReceiveTimeout(f"The transport to {self.service_name} expects no response to {request_id}")
            if got_id == request_id:
                if registered and router.accept(got_id) is None:
                    continue  # given up on meanwhile: dropped, and the next claim says so
                return got
            if router.accept(got_id) is not None:
                router.park(got_id, got)
            # else a late response to a call that gave up (or a duplicate): dropped

    def get_all_responses(self, receive_timeout_in_seconds: float | None = None) -> Generator[tuple[Any, JobResponse]]:
        """Yield ``(request_id, response)`` for every request this thread sent and nobody has claimed."""
        me = threading.get_ident()
        router = self._router
        while True:
            mine = router.expected_by(me)
            yield from router.parked_unclaimed()
            if not mine:
                return
            rid = mine[0]
            yield rid, self.wait_for(rid, receive_timeout_in_seconds)


class Client(ClientCore[ClientSettings, ServiceHandler]):
    """Calls actions of services. ``config`` maps each service name to its client settings.

    A client is safe to share between threads. ``context`` is the base context of every request.
    A client made by :meth:`with_deadline` (``request.client`` of a job that has a deadline) caps
    every call's timeout to the time left before its deadline, less :data:`CALL_MARGIN_SECONDS`.
    """

    settings_class: ClassVar[type[ClientSettings]] = ClientSettings
    handler_class: ClassVar[type[ServiceHandler]] = ServiceHandler

    FutureResponse = FutureSOAResponse

    def __init__(
        self,
        config: Mapping[str, Mapping[str, Any]] | None,
        expansion_config: Mapping[str, Any] | None = None,
        settings_class: type[ClientSettings] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(config, expansion_config, settings_class, context)
        self._handlers_lock = threading.Lock()

    def close(self) -> None:
        """Close the transports this client opened; a later call opens new ones.

        Clients made with :meth:`with_context` share this client's transports.
        """
        with self._handlers_lock:
            handlers = list(self.handlers.values())
            self.handlers.clear()
        for handler in handlers:
            handler.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get_handler(self, service_name: str) -> ServiceHandler:
        handler = self.handlers.get(service_name)
        if handler is not None:
            return handler
        settings = self._settings_for(service_name)
        with self._handlers_lock:
            handler = self.handlers.get(service_name)
            if handler is None:
                handler = self.handlers[service_name] = self.handler_class(service_name, settings)
        return handler

    # --- sending ------------------------------------------------------------------------------------

    def _send_job(self, service_name: str, job: dict[str, Any], timeout: float | None) -> PendingJob:
        """Send one job expecting a response. Every call method goes through here (test stubs hook in here)."""
        handler = self._get_handler(service_name)
        return PendingJob(handler, handler.send_request(job, timeout))

    # --- non-blocking primitives ---------------------------------------------------------------------

    def send_request(
        self,
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
        """Send one job without waiting; returns the request id for :meth:`get_all_responses`.

        With ``suppress_response`` the server sends nothing back and nothing waits for it, so this
        client's deadline does not apply to it.
        """
        if not suppress_response:
            message_expiry_in_seconds = self._call_timeout(message_expiry_in_seconds, service_name)
        job = self._make_job(
            actions,
            switches,
            correlation_id,
            continue_on_error,
            context,
            control_extra,
            message_expiry_in_seconds,
            suppress_response,
        )
        return self._get_handler(service_name).send_request(
            job, message_expiry_in_seconds, expect_response=not suppress_response
        )

    def get_all_responses(
        self, service_name: str, receive_timeout_in_seconds: float | None = None
    ) -> Generator[tuple[Any, JobResponse]]:
        """Yield ``(request_id, JobResponse)`` for every response this thread is owed by ``service_name``."""
        return self._get_handler(service_name).get_all_responses(receive_timeout_in_seconds)

    # --- futures -------------------------------------------------------------------------------------

    def call_actions_future(
        self,
        service_name: str,
        actions: Iterable[Mapping[str, Any] | ActionRequest],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> FutureSOAResponse:
        self._check_expansions(expansions)
        if expansions:
            switches = reusable_switches(switches)
        timeout = self._call_timeout(timeout, service_name)
        job = self._make_job(
            actions, switches, correlation_id, continue_on_error, context, control_extra, timeout, False
        )
        deadline = deadline_after(timeout)
        pending = self._send_job(service_name, job, timeout)

        def get_response(wait_timeout: float | None, give_up_on_timeout: bool) -> JobResponse:
            response = pending.wait(wait_timeout or time_left(deadline), give_up_on_timeout)
            raise_for_errors(response, raise_job_errors, raise_action_errors)
            if expansions:
                self._expand(response.actions, expansions, timeout, switches, correlation_id, context, control_extra)
            return response

        return FutureSOAResponse(get_response, pending.abandon)

    def call_action_future(
        self,
        service_name: str,
        action: str,
        body: Mapping[str, Any] | None = None,
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> FutureSOAResponse:
        future = self.call_actions_future(
            service_name,
            [{"action": action, "body": body or {}}],
            expansions=expansions,
            raise_job_errors=raise_job_errors,
            raise_action_errors=raise_action_errors,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            context=context,
            control_extra=control_extra,
        )

        def get_response(wait_timeout: float | None, give_up_on_timeout: bool) -> ActionResponse | list[Error]:
            return action_outcome(future._resolve(wait_timeout, give_up_on_timeout))

        return FutureSOAResponse(get_response, future._abandon)

    def call_jobs_parallel_future(
        self,
        jobs: Iterable[Mapping[str, Any]],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> FutureSOAResponse:
        """Send every job at once; the result lists their responses in input order.

        With ``catch_transport_errors`` a transport error takes the place of that job's response
        instead of being raised.
        """
        collect, sent = self._send_parallel(
            jobs,
            expansions,
            raise_job_errors,
            raise_action_errors,
            catch_transport_errors,
            timeout,
            switches,
            correlation_id,
            continue_on_error,
            context,
            control_extra,
        )
        return FutureSOAResponse(collect, lambda: _abandon_all(sent))

    def call_actions_parallel_future(
        self,
        service_name: str,
        actions: Iterable[Mapping[str, Any] | ActionRequest],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> FutureSOAResponse:
        """Each action becomes its own job, so several servers can run them at once."""
        collect, sent = self._send_parallel(
            jobs_per_action(service_name, actions),
            expansions=expansions,
            raise_job_errors=raise_job_errors,
            raise_action_errors=raise_action_errors,
            catch_transport_errors=catch_transport_errors,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            context=context,
            control_extra=control_extra,
        )

        def get_response(
            wait_timeout: float | None, give_up_on_timeout: bool
        ) -> Generator[ActionResponse | list[Error] | TransportError]:
            return (item for item in action_outcomes(collect(wait_timeout, give_up_on_timeout)))

        return FutureSOAResponse(get_response, lambda: _abandon_all(sent))

    def _send_parallel(
        self,
        jobs: Iterable[Mapping[str, Any]],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        catch_transport_errors: bool = False,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> tuple[Callable[[float | None, bool], list[JobResponse | TransportError]], list[PendingJob | TransportError]]:
        """Send every job at once: ``(collect, sent)``.

        ``collect(wait_timeout, give_up_on_timeout)`` waits for the results in input order; a
        future wraps it, and the blocking parallel calls call it directly (no future, no lock).
        """
        if expansions:
            self._check_expansions(expansions)
        switches = reusable_switches(switches)
        timeout, out_of_time = self._parallel_timeout(timeout, catch_transport_errors)
        call_deadline = deadline_after(timeout)
        sent: list[PendingJob | TransportError] = []
        for job in jobs:
            if out_of_time is not None:
                sent.append(out_of_time)
                continue
            try:
                body = self._make_job(
                    job["actions"], switches, correlation_id, continue_on_error, context, control_extra, timeout, False
                )
                sent.append(self._send_job(job["service_name"], body, timeout))
            except TransportError as exc:
                if not catch_transport_errors:
                    _abandon_all(sent)
                    raise
                sent.append(exc)

        # Responses already received survive a timed-out result(), so that a later result() can finish.
        results: list[JobResponse | TransportError] = []

        def collect(wait_timeout: float | None, give_up_on_timeout: bool) -> list[JobResponse | TransportError]:
            deadline = deadline_after(wait_timeout) if wait_timeout else call_deadline
            for index in range(len(results), len(sent)):
                item = sent[index]
                if isinstance(item, TransportError):
                    results.append(item)
                    continue
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                try:
                    results.append(item.wait(remaining, give_up_on_timeout))
                except MessageReceiveTimeout as exc:
                    if not give_up_on_timeout:
                        raise
                    if not catch_transport_errors:
                        _abandon_all(sent[index + 1 :])
                        raise
                    results.append(exc)
                except TransportError as exc:
                    if not catch_transport_errors:
                        _abandon_all(sent[index + 1 :])
                        raise
                    results.append(exc)
            responses = checked_responses(results, raise_job_errors, raise_action_errors)
            if expansions:
                for response in responses:
                    self._expand(
                        response.actions, expansions, timeout, switches, correlation_id, context, control_extra
                    )
            return list(results)

        return collect, sent

    # --- blocking calls ----------------------------------------------------------------------------------

    def call_action(self, service_name: str, action: str, body: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Call one action and return its :class:`ActionResponse`.

        Raises :class:`CallActionError` when the action fails and :class:`CallJobError` when the job
        does (unless ``raise_action_errors`` / ``raise_job_errors`` are false; with job errors not
        raised, the list of job :class:`Error` objects is returned instead). The keyword arguments
        are those of :meth:`call_action_future`.
        """
        if not kwargs:
            # Passed without a name here, the list is the callee's alone: freed while the reply is on its way.
            return action_outcome(self._call_actions(service_name, [{"action": action, "body": body or {}}]))
        return action_outcome(self._call_actions(service_name, [{"action": action, "body": body or {}}], **kwargs))

    def call_actions(
        self, service_name: str, actions: Iterable[Mapping[str, Any] | ActionRequest], **kwargs: Any
    ) -> Any:
        """Call several actions as one job, run serially by one server; returns the :class:`JobResponse`."""
        return self._call_actions(service_name, actions, **kwargs)

    def _call_actions(
        self,
        service_name: str,
        actions: Iterable[Mapping[str, Any] | ActionRequest],
        expansions: Mapping[str, Any] | None = None,
        raise_job_errors: bool = True,
        raise_action_errors: bool = True,
        timeout: float | None = None,
        switches: Iterable[Any] | None = None,
        correlation_id: str | None = None,
        continue_on_error: bool = False,
        context: Mapping[str, Any] | None = None,
        control_extra: Mapping[str, Any] | None = None,
    ) -> JobResponse:
        """The blocking call: no future, and the wait ends at the deadline set when the job was sent."""
        # The guards skip a call each on the common path (no expansions, no deadline, no timeout).
        if expansions:
            self._check_expansions(expansions)
            switches = reusable_switches(switches)
        if self._deadline is not None:
            timeout = self._call_timeout(timeout, service_name)
        job = self._make_job(
            actions, switches, correlation_id, continue_on_error, context, control_extra, timeout, False
        )
        deadline = deadline_after(timeout) if timeout else None
        if type(self)._send_job is _plain_send_job:
            # Nothing hooks _send_job (test stubs replace it on the class): the handler sends the job and waits for
            # the response itself, with no PendingJob and no router bookkeeping for this request (see
            # ServiceHandler._receive).
            handler = self.handlers.get(service_name) or self._get_handler(service_name)
            request_id = handler.send_request(job, timeout, False)
            # Freed now, while the reply is on its way, rather than on return, after it came.
            del job, actions
            response = handler._receive(request_id, deadline, True, False)
        else:
            pending = self._send_job(service_name, job, timeout)
            del job, actions
            response = pending.wait(None if deadline is None else time_left(deadline))
        raise_for_errors(response, raise_job_errors, raise_action_errors)
        if expansions:
            self._expand(response.actions, expansions, timeout, switches, correlation_id, context, control_extra)
        return response

    def call_actions_parallel(
        self, service_name: str, actions: Iterable[Mapping[str, Any] | ActionRequest], **kwargs: Any
    ) -> Any:
        """Call several actions at once, each as its own job; returns their responses in input order.

        The keyword arguments are those of :meth:`call_actions_parallel_future`.
        """
        if "continue_on_error" in kwargs:
            # Not a parameter of call_actions_parallel_future (each job has one action), nor of PySOA's.
            raise TypeError("call_actions_parallel() got an unexpected keyword argument 'continue_on_error'")
        collect, _sent = self._send_parallel(jobs_per_action(service_name, actions), **kwargs)
        return (item for item in action_outcomes(collect(None, True)))

    def call_jobs_parallel(self, jobs: Iterable[Mapping[str, Any]], **kwargs: Any) -> Any:
        """Call several jobs (``{'service_name': ..., 'actions': [...]}``) at once; responses in input order.

        The keyword arguments are those of :meth:`call_jobs_parallel_future`.
        """
        collect, _sent = self._send_parallel(jobs, **kwargs)
        return collect(None, True)

    # --- expansions ------------------------------------------------------------------------------------

    def _expand(
        self,
        action_responses: list[ActionResponse],
        expansions: Mapping[str, Any],
        timeout: float | None,
        switches: Iterable[Any] | None,
        correlation_id: str | None,
        context: Mapping[str, Any] | None,
        control_extra: Mapping[str, Any] | None,
    ) -> None:
        if self.expansion_converter is None:
            return
        from pysoa.client.expander import perform_expansions

        perform_expansions(
            self,
            self.expansion_converter,
            action_responses,
            expansions,
            timeout=timeout,
            switches=switches,
            correlation_id=correlation_id,
            context=context,
            control_extra=control_extra,
        )


# Client._send_job as defined here: the blocking call takes its shorter way only while this is the one in use.
_plain_send_job = Client._send_job


def _abandon_all(sent: Iterable[PendingJob | TransportError]) -> None:
    for item in sent:
        if not isinstance(item, TransportError):
            item.abandon()
