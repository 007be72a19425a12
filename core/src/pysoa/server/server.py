"""The server: receives job requests, runs their actions, sends job responses."""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import inspect
import logging
import logging.config
import os
import signal
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeAlias, TypeVar, cast

from pysoa.client._chain import chained_context, reset_chained_context, set_chained_context
from pysoa.common._deadline import DEADLINE_CONTROL_KEY, TIMEOUT_CONTROL_KEY
from pysoa.common.constants import (
    ERROR_CODE_INVALID,
    ERROR_CODE_REQUEST_TOO_LARGE,
    ERROR_CODE_RESPONSE_NOT_SERIALIZABLE,
    ERROR_CODE_RESPONSE_TOO_LARGE,
)
from pysoa.common.log_limit import RateLimitedLogger
from pysoa.common.logging import (
    PySOALogContextFilter,
    RecursivelyCensoredDictWrapper,
    make_censor,
    push_job_log_context,
    reset_logging_action_name,
    reset_logging_request_context,
    set_logging_action_name,
)
from pysoa.common.settings import resolve_python_path
from pysoa.common.transport.async_base import AsyncServerTransport, IncomingRequest
from pysoa.common.transport.message import ReplyRoute
from pysoa.common.types import IS_CALLER_ERROR_SINCE, ActionResponse, Error, JobResponse, _job_response_dict
from pysoa.errors import (
    ActionError,
    ConfigurationError,
    EncodeError,
    ImproperlyConfigured,
    InvalidMessageError,
    JobError,
    MessageReceiveTimeout,
    MessageTooLarge,
    PluginError,
    RequestTooLarge,
    SOAError,
    TransientTransportError,
)
from pysoa.plugins import get_plugin_manager
from pysoa.server._event_loop import AsyncEventLoopThread
from pysoa.server._exit_status import EXIT_CONFIGURATION_ERROR
from pysoa.server._job_steps import (
    NO_SWITCHES,
    JobActions,
    action_interrupted,
    action_too_late,
    deadline_exceeded,
    has_errors,
    job_deadline_and_lateness,
    job_switches,
    job_timed_out,
    server_error,
    unknown_action,
    with_correlation_id,
)
from pysoa.server._outage import TransportOutage
from pysoa.server.action.introspection import IntrospectionAction
from pysoa.server.action.status import make_default_status_action_class
from pysoa.server.heartbeat import HeartbeatFile
from pysoa.server.middleware import ServerMiddleware
from pysoa.server.runtime_stats import RuntimeStats
from pysoa.server.schemas import job_request_errors, looks_valid
from pysoa.server.settings import ServerSettings
from pysoa.server.types import EnrichedActionRequest, EnrichedJobRequest, RequestSwitchSet

if TYPE_CHECKING:
    from pysoa.client.async_client import AsyncClient
    from pysoa.client.client import Client
    from pysoa.common.transport.base import ServerTransport

__all__ = [
    "DEFAULT_ASYNC_JOBS_PER_WORKER",
    "HarakiriInterrupt",
    "Server",
    "ServerMiddlewareActionTask",
    "ServerMiddlewareJobTask",
]

# PySOA's names for what server middleware wraps, for type hints.
ServerMiddlewareJobTask: TypeAlias = Callable[[EnrichedJobRequest], JobResponse]
ServerMiddlewareActionTask: TypeAlias = Callable[[EnrichedActionRequest], ActionResponse]

_T = TypeVar("_T")
# Jobs a worker runs at once when the service has async actions and async_jobs_per_worker is unset.
DEFAULT_ASYNC_JOBS_PER_WORKER: Final = 16
# How often a pause between retries looks for a shutdown signal (time.sleep resumes after a handler).
_STOP_CHECK_SECONDS = 0.1
_perf_counter = time.perf_counter
# The methods Server._answered_plain_job folds in: a subclass overriding any of them gets them called, layer by layer.
_PLAIN_JOB_STEPS = (
    "process_job",
    "execute_job",
    "_admit_job",
    "_enrich_job",
    "_action_request",
    "_run_action",
    "_job_finished",
    "_send_response",
    "_response_body",
    "get_action_factory",
)


class HarakiriInterrupt(BaseException):
    """Raised in the main thread when a job runs past ``harakiri.timeout``.

    A ``BaseException`` so that an action's ``except Exception`` cannot swallow it.
    """


def _suppresses_response(body: Any) -> bool:
    return isinstance(body, dict) and bool((body.get("control") or {}).get("suppress_response"))


def _includes_caller_error(meta: Mapping[str, Any]) -> bool:
    """Whether the client that sent ``meta`` knows the errors' ``is_caller_error`` key."""
    client_version = meta.get("client_version")
    try:
        return tuple(client_version) >= IS_CALLER_ERROR_SINCE if client_version else False
    except TypeError:
        return False


def _checked_action_response(name: str, response: Any) -> ActionResponse:
    if not isinstance(response, ActionResponse):
        raise TypeError(f"Action {name!r} returned {type(response).__name__}, not an ActionResponse")
    return response


class Server:
    """Base class of a service. Subclass it, set ``service_name`` and ``action_class_map``.

    ``action_class_map`` maps action names to anything that, called with the settings, returns a
    callable taking an :class:`EnrichedActionRequest` and returning an :class:`ActionResponse`:
    :class:`~pysoa.server.action.Action` subclasses, or plain functions/callables (a function is
    called with the request and may return a body dict or an ``ActionResponse``).
    """

    service_name: ClassVar[str | None] = None
    action_class_map: ClassVar[Mapping[str, Any]] = {}
    settings_class: ClassVar[type[ServerSettings]] = ServerSettings
    request_class: ClassVar[type[EnrichedActionRequest]] = EnrichedActionRequest
    client_class: ClassVar[type[Client] | None] = None
    use_django: ClassVar[bool] = False
    introspection_action: ClassVar[Callable[[Server], Any] | None] = None
    description: ClassVar[str | None] = None

    def __init__(self, settings: ServerSettings | Mapping[str, Any], forked_process_id: int | None = None) -> None:
        if not self.service_name:
            raise AttributeError(f"{type(self).__name__} must set service_name")
        if not isinstance(settings, ServerSettings):
            settings = self.settings_class(settings)
        self.settings = settings
        self.forked_process_id = forked_process_id
        self.logger = logging.getLogger("pysoa.server")
        # Malformed requests are counted in stats and metrics; the log gets a bounded sample.
        self._malformed_log = RateLimitedLogger(self.logger)
        self.job_logger = logging.getLogger("pysoa.server.job")
        self.stats: Counter[str] = Counter()
        self.runtime_stats = RuntimeStats()  # what the status action reports with {"runtime": true}

        metrics_config = settings["metrics"]
        self.metrics = metrics_config["object"](**metrics_config.get("kwargs", {})) if metrics_config else None

        transport_config = settings["transport"]
        self.transport: ServerTransport = transport_config["object"](
            self.service_name, self.metrics, forked_process_id or 1, **transport_config["kwargs"]
        )
        self.middleware: list[ServerMiddleware] = [m["object"](**m["kwargs"]) for m in settings["middleware"]]
        for middleware in self.middleware:
            middleware.bind(self.service_name, self.transport)
        job_stack: Callable[[EnrichedJobRequest], JobResponse] = self.execute_job
        for middleware in reversed(self.middleware):
            job_stack = middleware.job(job_stack)
        self._job_stack = job_stack
        self._action_middleware = [m for m in self.middleware if type(m).action is not ServerMiddleware.action]

        self._censor = make_censor(settings["extra_fields_to_redact"])
        self._success_level = logging.getLevelName(settings["request_log_success_level"])
        self._error_level = logging.getLevelName(settings["request_log_error_level"])
        # When the job log is off at this level it is off at both: one check per job then skips all request logging.
        self._request_log_level_bound = max(self._success_level, self._error_level)
        self._action_factories: dict[str, Any] = {}
        self._default_status_action = make_default_status_action_class(type(self))
        self._client: Client | None = None
        # Actions with ``async def run`` (or async functions): they get an AsyncClient and are awaited.
        self._async_actions = frozenset(
            name for name, target in self.action_class_map.items() if _is_async_action(target)
        )
        self._async_client: AsyncClient | None = None
        async_job_stack: Callable[[EnrichedJobRequest], Awaitable[JobResponse]] = self.execute_job_async
        for middleware in reversed(self.middleware):
            async_job_stack = middleware.async_job(async_job_stack)
        self._async_job_stack = async_job_stack
        self._async_action_middleware = [
            m for m in self.middleware if type(m).async_action is not ServerMiddleware.async_action
        ]
        # Middleware that wraps jobs or actions but has no async variant: jobs then run the sync way.
        self._middleware_without_async = [type(m).__name__ for m in self.middleware if not _has_async_variants(m)]
        self._coroutine_middleware = [
            resolve_python_path(m["path"])(**m.get("kwargs", {})) for m in settings["coroutine_middleware"]
        ]
        self._event_loop = AsyncEventLoopThread()

        self.shutting_down = False
        self.exit_status = 0
        self._shutdown_lock = threading.Lock()
        self._last_signal: int | None = None
        self._last_signal_time = 0.0
        self.heartbeat = HeartbeatFile.from_setting(settings["heartbeat_file"], forked_process_id)
        self._harakiri_timeout: int = settings["harakiri"]["timeout"]
        self._plain_jobs = self._takes_plain_jobs()
        # Server's own request hooks do nothing without Django (the one after a request beats the heartbeat file,
        # when there is one): each job then skips their calls.
        cls = type(self)
        self._idle_request_hooks = (
            not self.use_django
            and cls.perform_pre_request_actions is Server.perform_pre_request_actions
            and cls.perform_post_request_actions is Server.perform_post_request_actions
        )
        # Tests and the local transport skip per-request Django database clean-up.
        self._skip_django_database_cleanup = False

    # --- actions ---------------------------------------------------------------------------

    def all_action_classes(self) -> dict[str, Any]:
        """Every action this server answers, built-ins included (for introspection)."""
        actions = dict(self.action_class_map)
        actions.setdefault("status", self._default_status_action)
        actions.setdefault("introspect", IntrospectionAction)
        return actions

    def get_action_factory(self, name: str) -> Callable[[Any], Any] | None:
        """``factory(settings) -> callable(request) -> ActionResponse`` for ``name``, or ``None``."""
        factory: Callable[[Any], Any] | None = self._action_factories.get(name)
        if factory is not None:
            return factory
        target = self.action_class_map.get(name)
        if target is not None:
            factory = _action_factory(target)
        elif name == "status":
            factory = self._default_status_action
        elif name == "introspect":
            custom = type(self).introspection_action
            factory = (lambda _settings: custom(self)) if custom else (lambda _settings: IntrospectionAction(self))
        else:
            return None
        self._action_factories[name] = factory
        return factory

    # --- clients for chained calls ------------------------------------------------------------

    @property
    def client(self) -> Client:
        """The server's client for ``client_routing``; built once, shared by every job."""
        if self._client is None:
            client_class = self.client_class
            if client_class is None:
                from pysoa.client.client import Client

                client_class = Client
            self._client = client_class(self.settings["client_routing"])
        return self._client

    def make_client(
        self, context: Mapping[str, Any], extra_context: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Client:
        """The client an action gets as ``request.client``: the shared client, seeing this request's context."""
        new_context = dict(context)
        if extra_context:
            new_context.update(extra_context)
        new_context["calling_service"] = self.service_name
        if kwargs:
            client_class = self.client_class
            if client_class is None:
                from pysoa.client.client import Client

                client_class = Client
            return client_class(self.settings["client_routing"], context=new_context, **kwargs)
        client = self._client
        return (self.client if client is None else client).with_context(new_context)

    def run_coroutine(self, coroutine: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Schedule ``coroutine`` on the server's event loop thread (started on first use)."""
        for middleware in self._coroutine_middleware:
            middleware.before_run_coroutine()
        for middleware in reversed(self._coroutine_middleware):
            coroutine = middleware.coroutine(coroutine)
        return self._event_loop.run_coroutine(coroutine)

    # --- one job ----------------------------------------------------------------------------------

    def process_job(self, job_request: dict[str, Any]) -> JobResponse:
        """Validate a job request dict, run it through the job middleware and actions."""
        refusal, deadline = self._admit_job(job_request)
        if refusal is not None:
            return refusal
        try:
            enriched = self._enrich_job(job_request, deadline)
            # Client calls made while the job runs carry its context along, whichever client makes them:
            # the context of its request.client.
            client = enriched.client
            # chained_context's steps without the object (once per job).
            token = set_chained_context(enriched.context if client is None else client.context)
            try:
                response = self._job_stack(enriched)
            finally:
                reset_chained_context(token)
        except (HarakiriInterrupt, Exception) as exc:
            response = self._job_failed(exc)
        return with_correlation_id(response, job_request["context"])

    def _admit_job(self, job_request: dict[str, Any]) -> tuple[JobResponse | None, float | None]:
        """``(refusal, deadline)``: the answer to a job that must not run (invalid, out of time), or its deadline."""
        errors = None if looks_valid(job_request) else job_request_errors(job_request)
        if errors:
            return JobResponse(
                errors=[Error(code=e.code, message=e.message, field=e.pointer, is_caller_error=False) for e in errors]
            ), None
        control = job_request["control"]
        deadline = None
        if DEADLINE_CONTROL_KEY in control or TIMEOUT_CONTROL_KEY in control:
            deadline, late_by = job_deadline_and_lateness(control)
            if late_by is not None:
                # The caller has stopped waiting: running the job would only waste work.
                self.stats["deadline_exceeded.job"] += 1
                if self.metrics is not None:
                    self.metrics.counter("server.error.deadline_exceeded").increment()
                refusal = JobResponse(errors=[deadline_exceeded("job", late_by)])
                return with_correlation_id(refusal, job_request["context"]), None
        return None, deadline

    def _enrich_job(self, job_request: dict[str, Any], deadline: float | None) -> EnrichedJobRequest:
        client = self.make_client(job_request["context"])
        if deadline is not None:
            client = client.with_deadline(deadline)
        return EnrichedJobRequest._of_valid_job(job_request, client, self.run_coroutine, deadline)

    def _job_failed(self, exc: BaseException) -> JobResponse:
        """The answer to a job whose middleware (or the job loop itself) raised ``exc``."""
        if isinstance(exc, JobError):
            return JobResponse(errors=exc.errors)
        if isinstance(exc, HarakiriInterrupt):
            self.stats["harakiri.job"] += 1
            return job_timed_out()
        self.logger.exception("Unhandled error while processing job")
        self.stats["error.unhandled"] += 1
        return JobResponse(errors=[server_error(exc)])

    def execute_job(self, job_request: EnrichedJobRequest) -> JobResponse:
        """Run the job's actions in order; stop after the first with errors unless ``continue_on_error``.

        An action whose turn comes after the job's deadline is not run: it gets a
        ``DEADLINE_EXCEEDED`` error and the job stops there, even with ``continue_on_error``.
        """
        job = JobActions(job_request, self._action_request, self.stats, self.runtime_stats)
        while (request := job.next_request()) is not None:
            token = set_logging_action_name(request.action)
            try:
                response = self._run_action(request)
            except HarakiriInterrupt:
                job.interrupted()
                break
            finally:
                reset_logging_action_name(token)
            job.finished(response)
        return job.response()

    def _action_request(
        self,
        job_request: EnrichedJobRequest,
        name: str,
        body: dict[str, Any],
        switches: RequestSwitchSet,
        deadline: float | None,
    ) -> EnrichedActionRequest:
        """The request one action gets: an ``async def`` action gets an :class:`AsyncClient` as ``client``."""
        client: Any = job_request.client
        if name in self._async_actions:
            client = self.make_async_client(job_request.context, deadline)
        request_class = self.request_class
        if request_class is EnrichedActionRequest:
            return EnrichedActionRequest._for_server(
                self,
                name,
                body,
                switches,
                job_request.context,
                job_request.control,
                client,
                job_request.run_coroutine,
                deadline,
            )
        request = request_class(
            action=name,
            body=body,
            switches=switches,
            context=job_request.context,
            control=job_request.control,
            client=client,
            run_coroutine=job_request.run_coroutine,
            deadline=deadline,
        )
        request._server = self
        return request

    def _run_action(self, request: EnrichedActionRequest) -> ActionResponse:
        """Run one action (through the action middleware), an ``async def`` one on the event loop thread."""
        name = request.action
        factory = self.get_action_factory(name)
        if factory is None:
            return unknown_action(name)
        try:
            action: Callable[[EnrichedActionRequest], Any] = factory(self.settings)
            if self._action_middleware:
                if name in self._async_actions:
                    action = self._awaited(action)  # sync middleware sees an ActionResponse
                for middleware in reversed(self._action_middleware):
                    action = middleware.action(action)
            response = action(request)
            if type(response) is ActionResponse:
                return response
            return self._settled_action_response(name, response)
        except Exception as exc:
            return self._action_failed(name, exc)

    def _settled_action_response(self, name: str, response: Any) -> ActionResponse:
        """What a sync worker makes of an action's answer that is not an ``ActionResponse`` itself: an
        awaitable is awaited on the event loop thread; anything else must be an ``ActionResponse`` subclass."""
        if inspect.isawaitable(response):
            response = self._await_on_event_loop(response)
        return _checked_action_response(name, response)

    def _action_failed(self, name: str, exc: Exception) -> ActionResponse:
        """The response of action ``name`` that raised ``exc``; a :class:`JobError` ends the job instead."""
        if isinstance(exc, ActionError):
            return ActionResponse(name, errors=exc.errors)
        if isinstance(exc, JobError):
            raise exc
        self.logger.exception("Unhandled error in action %s", name)
        self.stats["error.action"] += 1
        return ActionResponse(name, errors=[server_error(exc)])

    # --- async actions ------------------------------------------------------------------------

    @property
    def async_client(self) -> AsyncClient:
        """The server's :class:`AsyncClient` for ``client_routing`` (``request.client`` of async actions)."""
        if self._async_client is None:
            from pysoa.client.async_client import AsyncClient

            self._async_client = AsyncClient(self.settings["client_routing"])
        return self._async_client

    def make_async_client(self, context: Mapping[str, Any], deadline: float | None = None) -> AsyncClient:
        """The client an ``async def`` action gets as ``request.client``: as :meth:`make_client`, but awaitable."""
        new_context = dict(context)
        new_context["calling_service"] = self.service_name
        client = self.async_client.with_context(new_context)
        return client if deadline is None else client.with_deadline(deadline)

    def _await_on_event_loop(self, awaitable: Awaitable[_T]) -> _T:
        """Run an async action on the server's event loop thread and wait for it (the one-job-at-a-time worker).

        Harakiri interrupts the wait and cancels the action.
        """

        async def run() -> _T:
            return await awaitable

        future = self._event_loop.run_coroutine(run())
        try:
            return future.result()
        except HarakiriInterrupt:
            future.cancel()
            raise

    def _awaited(self, action: Callable[[EnrichedActionRequest], Any]) -> Callable[[EnrichedActionRequest], Any]:
        def call(request: EnrichedActionRequest) -> Any:
            response = action(request)
            return self._await_on_event_loop(response) if inspect.isawaitable(response) else response

        return call

    async def process_job_async(self, job_request: dict[str, Any]) -> JobResponse:
        """:meth:`process_job` for a worker that runs jobs concurrently: async job middleware, actions awaited.

        A server with middleware that has no async variants runs the job the sync way instead (its
        async actions on the server's event loop thread), blocking the caller's event loop meanwhile.
        """
        if self._middleware_without_async:
            return self.process_job(job_request)
        refusal, deadline = self._admit_job(job_request)
        if refusal is not None:
            return refusal
        try:
            enriched = self._enrich_job(job_request, deadline)
            # Set in this job's own task: concurrent jobs of one worker never see each other's context.
            client = enriched.client
            with chained_context(enriched.context if client is None else client.context):
                response = await self._async_job_stack(enriched)
        except Exception as exc:
            response = self._job_failed(exc)
        return with_correlation_id(response, job_request["context"])

    async def execute_job_async(self, job_request: EnrichedJobRequest) -> JobResponse:
        """:meth:`execute_job`, awaiting ``async def`` actions; a sync action runs on the event loop, alone."""
        job = JobActions(job_request, self._action_request, self.stats, self.runtime_stats)
        harakiri_timeout = self._harakiri_timeout
        while (request := job.next_request()) is not None:
            token = set_logging_action_name(request.action)
            try:
                if request.action in self._async_actions:
                    async with asyncio.timeout(harakiri_timeout or None):
                        response = await self._run_action_async(request)
                else:
                    response = self._run_action_under_alarm(request, harakiri_timeout)
            except (HarakiriInterrupt, TimeoutError):
                job.interrupted()
                break
            finally:
                reset_logging_action_name(token)
            job.finished(response)
        return job.response()

    def _run_action_under_alarm(self, request: EnrichedActionRequest, harakiri_timeout: int) -> ActionResponse:
        """A sync action in the concurrent worker: it blocks the event loop, so harakiri's alarm is what can stop it."""
        if not harakiri_timeout:
            return self._run_action(request)
        signal.alarm(harakiri_timeout)
        try:
            return self._run_action(request)
        finally:
            signal.alarm(0)

    async def _run_action_async(self, request: EnrichedActionRequest) -> ActionResponse:
        """:meth:`_run_action` for an ``async def`` action, through the async action middleware."""
        name = request.action
        factory = self.get_action_factory(name)
        assert factory is not None  # only entries of action_class_map are async actions
        try:
            action = factory(self.settings)

            async def call(action_request: EnrichedActionRequest) -> ActionResponse:
                result = action(action_request)
                return cast(ActionResponse, await result if inspect.isawaitable(result) else result)

            stack: Callable[[EnrichedActionRequest], Awaitable[ActionResponse]] = call
            for middleware in reversed(self._async_action_middleware):
                stack = middleware.async_action(stack)
            return _checked_action_response(name, await stack(request))
        except Exception as exc:
            return self._action_failed(name, exc)

    # --- the transport loop -----------------------------------------------------------------

    def handle_next_request(self) -> None:
        """Receive one request (or time out idle), process it and send the response."""
        try:
            request_id, meta, body = self.transport.receive_request_message()
        except MessageReceiveTimeout:
            self.perform_idle_actions()
            return
        except InvalidMessageError as exc:
            self._handle_malformed_request(exc)
            return
        if meta is None:
            meta = {}
        token = push_job_log_context(request_id, body)
        try:
            request_logged = self._job_started(body)
            if request_logged is None and self._plain_jobs and self._answered_plain_job(request_id, meta, body):
                return
            response = self.process_job(body) if isinstance(body, dict) else self._not_a_dict_response(body)
            try:
                if not _suppresses_response(body):
                    self._send_response(request_id, meta, response)
            finally:
                # Counted once the response is on its way, sent or not: the caller does not wait for this, and
                # the next job (a status action reading these figures) starts only after this method returns.
                failed = self._job_finished(response)
            if request_logged is not None:
                self._log_response(body, response, request_logged, failed)
        finally:
            reset_logging_request_context(token)
            if not self._idle_request_hooks or self.heartbeat is not None:
                self.perform_post_request_actions()

    def _takes_plain_jobs(self) -> bool:
        """Whether :meth:`_answered_plain_job` may stand in for the layers it leaves out (checked once).

        It may not when any of them could do more than it does: a subclass overriding one of the
        steps it folds in, job or action middleware, or a ``request_class`` of the service's own.
        """
        cls = type(self)
        for name in _PLAIN_JOB_STEPS:
            if getattr(cls, name) is not getattr(Server, name):
                return False
        job_stack = self._job_stack
        return (
            getattr(job_stack, "__func__", None) is Server.execute_job
            and getattr(job_stack, "__self__", None) is self
            and not self._action_middleware
            and self.request_class is EnrichedActionRequest
        )

    def _answered_plain_job(self, request_id: Any, meta: dict[str, Any], body: Any) -> bool:
        """Answer a plain job in one frame; ``False``, having done nothing, when ``body`` is not one.

        A plain job is a valid job request, not out of time, whose actions are all sync, on a
        server that :meth:`_takes_plain_jobs` and while the job log is off. This is what
        :meth:`process_job`, :meth:`execute_job` (with :class:`JobActions`), :meth:`_run_action` and
        :meth:`_job_finished` do for such a job, with the same steps and results, but without their
        calls and objects (the job request and the ``JobActions`` of the job): most jobs are plain,
        and these layers cost about as much as the rest of the server's work on a small job.
        """
        if not looks_valid(body):
            return False
        control = body["control"]
        deadline = None
        if DEADLINE_CONTROL_KEY in control or TIMEOUT_CONTROL_KEY in control:
            deadline, late_by = job_deadline_and_lateness(control)
            if late_by is not None:
                return False  # refused by _admit_job, which counts it
        actions = body["actions"]
        async_actions = self._async_actions
        if async_actions:
            for action in actions:
                if action["action"] in async_actions:
                    return False
        context = body["context"]
        responses: list[ActionResponse] = []
        failed = False
        try:
            client = self.make_client(context)
            if deadline is not None:
                client = client.with_deadline(deadline)
            token = set_chained_context(context if client is None else client.context)
            try:
                switches = context["switches"]  # a list, as looks_valid checked
                switches = job_switches(switches) if switches else NO_SWITCHES
                continue_on_error = control["continue_on_error"]
                run_coroutine = self.run_coroutine
                settings = self.settings
                factories = self._action_factories
                runtime_stats = self.runtime_stats
                for action in actions:
                    name = action["action"]
                    if deadline is not None:
                        too_late = action_too_late(name, deadline, self.stats)
                        if too_late is not None:
                            responses.append(too_late)
                            failed = True
                            break
                    action_body = action.get("body")
                    request = EnrichedActionRequest._for_server(
                        self,
                        name,
                        dict(action_body) if action_body else {},
                        switches,
                        context,
                        control,
                        client,
                        run_coroutine,
                        deadline,
                    )
                    started = _perf_counter()
                    name_token = set_logging_action_name(name)
                    try:
                        # _run_action without action middleware, which a plain job's server has none of.
                        factory = factories.get(name) or self.get_action_factory(name)
                        if factory is None:
                            action_response = unknown_action(name)
                        else:
                            try:
                                action_response = factory(settings)(request)
                                if type(action_response) is not ActionResponse:
                                    action_response = self._settled_action_response(name, action_response)
                            except Exception as exc:
                                action_response = self._action_failed(name, exc)
                    except HarakiriInterrupt:
                        responses.append(action_interrupted(name, self.stats))
                        failed = True
                        break
                    finally:
                        reset_logging_action_name(name_token)
                    # runtime_stats.action_finished's step, without its call.
                    seconds = _perf_counter() - started
                    actions_seen = runtime_stats.actions
                    (actions_seen.get(name) or runtime_stats.new_action(name)).record(
                        seconds, bool(action_response.errors)
                    )
                    responses.append(action_response)
                    if action_response.errors:
                        failed = True
                        if not continue_on_error:
                            break
            finally:
                reset_chained_context(token)
        except (HarakiriInterrupt, Exception) as exc:
            failure = self._job_failed(exc)
            failed = has_errors(failure)
            try:
                if not control.get("suppress_response"):
                    self._send_response(request_id, meta, with_correlation_id(failure, context))
            finally:
                self.runtime_stats.job_finished(failed)
            return True
        try:
            if not control.get("suppress_response"):
                # The JobResponse of the actions and its wire dict, without the object in between (the job
                # request's correlation id is a str, which with_correlation_id would copy into the context).
                response_context = {"correlation_id": context["correlation_id"]}
                include_caller = _includes_caller_error(meta)
                try:
                    wire = _job_response_dict([], response_context, responses, include_caller)
                except Exception:
                    # _response_body's answer to a response it cannot convert, with the response it would have.
                    self._send_response(request_id, meta, JobResponse(context=response_context, actions=responses))
                else:
                    self._send_response_body(request_id, meta, wire, response_context, include_caller)
        finally:
            self.runtime_stats.job_finished(failed)
        return True

    def _job_started(self, body: Any) -> bool | None:
        """Per-request hooks, the request log line and figures.

        Whether the request was logged, or ``None`` when the job log is off at both request log
        levels: then neither the request nor the response is logged (checked once per job).
        """
        if not self._idle_request_hooks:
            self.perform_pre_request_actions()
        self.runtime_stats.job_started()
        if not self.job_logger.isEnabledFor(self._request_log_level_bound):
            return None
        return self._log_request(body)

    def _job_finished(self, response: JobResponse) -> bool:
        """Count the answered job; whether it failed."""
        failed = has_errors(response)
        self.runtime_stats.job_finished(failed)
        return failed

    def _not_a_dict_response(self, body: Any) -> JobResponse:
        return JobResponse(
            errors=[Error(code=ERROR_CODE_INVALID, message=f"Job request must be a dict, not {type(body).__name__}")]
        )

    def _handle_malformed_request(self, exc: InvalidMessageError) -> None:
        self._count_malformed_request()
        if exc.request_id is not None and exc.meta is not None:
            self._send_response(exc.request_id, exc.meta, self._malformed_request_response(exc))
        else:
            self._malformed_log.warning("Dropped a malformed request that cannot be answered: %s", exc)

    def _count_malformed_request(self) -> None:
        self.stats["error.malformed_request"] += 1
        if self.metrics is not None:
            self.metrics.counter("server.error.malformed_request").increment()

    def _malformed_request_response(self, exc: InvalidMessageError) -> JobResponse:
        self._malformed_log.warning("Malformed request %r answered with a job error: %s", exc.request_id, exc)
        if isinstance(exc, RequestTooLarge):
            error = Error(code=ERROR_CODE_REQUEST_TOO_LARGE, message=str(exc), is_caller_error=True)
        else:
            error = Error(code=ERROR_CODE_INVALID, message=f"Malformed request: {exc}", is_caller_error=True)
        return JobResponse(errors=[error])

    def _send_response(self, request_id: Any, meta: dict[str, Any], response: JobResponse) -> None:
        body, include_caller = self._response_body(meta, response)
        self._send_response_body(request_id, meta, body, response.context, include_caller)

    def _send_response_body(
        self, request_id: Any, meta: dict[str, Any], body: dict[str, Any], context: dict[str, Any], include_caller: bool
    ) -> None:
        """Send a response's wire dict ``body`` (its ``context`` goes on the error sent if the transport refuses it)."""
        try:
            self.transport.send_response_message(request_id, meta, body)
            return
        except (MessageTooLarge, EncodeError) as exc:
            error_body = self._unsendable_response_body(exc, context, include_caller)
        # The transport answers in the request's protocol version and content type: ``meta`` is intact.
        self.transport.send_response_message(request_id, meta, error_body)

    def _response_body(self, meta: Mapping[str, Any], response: JobResponse) -> tuple[dict[str, Any], bool]:
        """The response as a dict for the client that sent ``meta``, and whether it carries ``is_caller_error``."""
        include_caller = _includes_caller_error(meta)
        try:
            return response.to_dict(include_caller), include_caller
        except Exception as exc:
            self.stats["error.response_conversion"] += 1
            fallback = JobResponse(errors=[server_error(exc, {"job_response": repr(response)})])
            return fallback.to_dict(include_caller), include_caller

    def _unsendable_response_body(
        self, exc: MessageTooLarge | EncodeError, context: Mapping[str, Any], include_caller: bool
    ) -> dict[str, Any]:
        """The job error sent instead of a response the transport refused to encode."""
        if isinstance(exc, MessageTooLarge):
            self.stats["error.response_too_large"] += 1
            self.logger.error(
                "Could not send a response of %s bytes because it was too large", exc.message_size_in_bytes
            )
            fallback = Error(
                code=ERROR_CODE_RESPONSE_TOO_LARGE,
                message="Could not send the response because it was too large",
                is_caller_error=False,
            )
        else:
            self.stats["error.response_not_serializable"] += 1
            self.logger.error("Could not send the response because it failed to serialize: %s", exc)
            fallback = Error(
                code=ERROR_CODE_RESPONSE_NOT_SERIALIZABLE,
                message="Could not send the response because it failed to serialize",
                is_caller_error=False,
            )
        return JobResponse(errors=[fallback], context=dict(context)).to_dict(include_caller)

    def _log_request(self, body: Any) -> bool:
        if self.job_logger.isEnabledFor(self._success_level):
            self.job_logger.log(self._success_level, "Job request: %s", self._censored(body))
            return True
        return False

    def _log_response(self, request: Any, response: JobResponse, request_logged: bool, failed: bool) -> None:
        level = self._error_level if failed else self._success_level
        if not self.job_logger.isEnabledFor(level):
            return
        if failed and not request_logged:
            self.job_logger.log(level, "Job request: %s", self._censored(request))
        self.job_logger.log(level, "Job response: %s", self._censored(response.to_dict()))

    def _censored(self, value: Any) -> Any:
        return RecursivelyCensoredDictWrapper(value, self._censor) if isinstance(value, Mapping) else value

    # --- hooks --------------------------------------------------------------------------------------

    def setup(self) -> None:
        """Runs once before the first request (override, and call super)."""

    def teardown(self) -> None:
        """Runs once after the last request (override, and call super)."""

    def perform_pre_request_actions(self) -> None:
        if self.use_django:
            from pysoa.server.django_support import before_request

            before_request(self)

    def perform_post_request_actions(self) -> None:
        if self.use_django:
            from pysoa.server.django_support import after_request

            after_request(self)
        if self.heartbeat is not None:
            self.heartbeat.beat()

    def perform_idle_actions(self) -> None:
        if self.use_django:
            from pysoa.server.django_support import on_idle

            on_idle(self)
        if self.heartbeat is not None:
            self.heartbeat.beat()

    # --- signals and harakiri -----------------------------------------------------------------------

    def handle_shutdown_signal(self, signal_number: int, _frame: FrameType | None) -> None:
        if not self._shutdown_lock.acquire(blocking=False):
            return  # a simultaneous duplicate
        try:
            now = time.monotonic()
            if self.shutting_down:
                if self._last_signal != signal_number and now - self._last_signal_time < 1:
                    # Ctrl+C in a terminal plus the TERM a supervisor forwards: one request to stop.
                    return
                self.logger.warning("Received a second shutdown signal; exiting now")
                sys.exit(1)
            self.logger.warning("Received signal %s; finishing the current request, then shutting down", signal_number)
            self.shutting_down = True
            self._last_signal = signal_number
            self._last_signal_time = now
        finally:
            self._shutdown_lock.release()

    def harakiri(self, _signal_number: int, _frame: FrameType | None) -> None:
        harakiri = self.settings["harakiri"]
        if self.shutting_down:
            self.logger.error("Graceful shutdown failed after %s seconds; exiting now", harakiri["shutdown_grace"])
            os._exit(1)
        stacks = "\n".join(
            f"Thread {ident}:\n{''.join(traceback.format_stack(frame))}"
            for ident, frame in sys._current_frames().items()
        )
        self.logger.warning(
            "No activity for %s seconds, triggering harakiri with grace period of %s seconds",
            harakiri["timeout"],
            harakiri["shutdown_grace"],
        )
        self.logger.info("Current thread stacks:\n%s", stacks)
        signal.alarm(harakiri["shutdown_grace"])
        self.shutting_down = True
        raise HarakiriInterrupt()

    def _pause_unless_stopping(self, seconds: float) -> None:
        """Sleep ``seconds``, but return as soon as a shutdown signal arrives."""
        until = time.monotonic() + seconds
        while not self.shutting_down:
            left = until - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, _STOP_CHECK_SECONDS))

    # --- running --------------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve requests until a shutdown signal (or harakiri) stops the loop.

        Afterwards ``exit_status`` is 0 for a requested stop, 1 when the loop gave up on an error,
        and :data:`~pysoa.server.standalone.EXIT_CONFIGURATION_ERROR` when the transport's start-up
        check found the configuration unusable (before ``setup()``; nothing was served).
        """
        self.exit_status = 0
        self.logger.info("Service %r server starting up, soa-core version %s", self.service_name, _version())
        try:
            self.transport.check_startup()
        except ConfigurationError as exc:
            # One line, no traceback: the message names the problem, and retrying cannot fix it.
            self.logger.error("Service %r cannot start: %s", self.service_name, exc)
            self.exit_status = EXIT_CONFIGURATION_ERROR
            self.transport.close()
            return
        async_slots = self._async_jobs_per_worker()
        if async_slots == 1:
            self._warn_if_self_calls_can_deadlock()
        self.setup()
        if self.heartbeat is not None:
            self.heartbeat.create()
        previous_handlers = {
            signal.SIGINT: signal.signal(signal.SIGINT, self.handle_shutdown_signal),
            signal.SIGTERM: signal.signal(signal.SIGTERM, self.handle_shutdown_signal),
            signal.SIGALRM: signal.signal(signal.SIGALRM, self.harakiri),
        }
        outage = TransportOutage(self.logger, self.settings["transport_outage_give_up_after_seconds"])
        try:
            if async_slots > 1:
                asyncio.run(self._serve_async(async_slots, outage))
            else:
                self._serve(outage)
        finally:
            signal.alarm(0)
            for signal_number, handler in previous_handlers.items():
                signal.signal(signal_number, handler)
            try:
                self.teardown()
            finally:
                self._event_loop.join()
                self.transport.close()
                if self.use_django:
                    from pysoa.server.django_support import on_shutdown

                    on_shutdown(self)
                if self.heartbeat is not None:
                    self.heartbeat.delete()
                self.logger.info("Service %r server shut down", self.service_name)

    # --- the concurrent worker ----------------------------------------------------------------------

    def _async_jobs_per_worker(self) -> int:
        """How many jobs this worker runs at once (setting ``async_jobs_per_worker``); checked at start-up.

        Unset, a service with async actions runs :data:`DEFAULT_ASYNC_JOBS_PER_WORKER` when its
        transport and middleware allow it (else one at a time, as a service without async actions).
        Set above 1, a transport without an async server side or middleware without async variants
        is a start-up error.
        """
        configured: int | None = self.settings["async_jobs_per_worker"]
        if configured == 1 or (configured is None and not self._async_actions):
            return 1
        problems = self._async_worker_problems()
        if configured is None and not problems and self._sync_actions_may_wait_for_this_worker():
            problems.append(
                f"transport {self.settings['transport']['name']!r} can route work to a worker whose loop a sync action "
                "blocks (set async_jobs_per_worker to run jobs concurrently anyway)"
            )
        if not problems:
            return configured or DEFAULT_ASYNC_JOBS_PER_WORKER
        if configured is not None:
            raise ImproperlyConfigured(
                f"async_jobs_per_worker is {configured}, but this server cannot run jobs concurrently: "
                + "; ".join(problems)
            )
        self.logger.info(
            "Service %r has async actions but runs one job at a time: %s", self.service_name, "; ".join(problems)
        )
        return 1

    def _sync_actions_may_wait_for_this_worker(self) -> bool:
        """Whether a sync action's call to this service could be handed to this worker while it runs."""
        if len(self._async_actions) == len(self.action_class_map):
            return False
        transport_class = get_plugin_manager().async_server_transport(self.settings["transport"]["name"])
        return transport_class.takes_work_while_blocked

    def _async_worker_problems(self) -> list[str]:
        problems = []
        transport_name = self.settings["transport"]["name"]
        try:
            get_plugin_manager().async_server_transport(transport_name)
        except PluginError:
            problems.append(f"transport {transport_name!r} has no async server side")
        for name in self._middleware_without_async:
            problems.append(f"middleware {name} wraps jobs or actions but has no async_job/async_action")
        return problems

    async def _serve_async(self, slots: int, outage: TransportOutage) -> None:
        """The concurrent loop: up to ``slots`` jobs run as tasks; a sync action blocks the loop while it runs."""
        transport_config = self.settings["transport"]
        transport_class = get_plugin_manager().async_server_transport(transport_config["name"])
        transport = transport_class(
            self.service_name or "", self.metrics, self.forked_process_id or 1, **transport_config["kwargs"]
        )
        # Middleware was bound to self.transport: what observes its message sizes observes this one's too.
        transport.message_sizes.observer = self.transport.message_sizes.observer
        free = asyncio.Semaphore(slots)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                await free.acquire()
                if self.shutting_down:  # checked once a slot is free: a signal may come while all are busy
                    break
                try:
                    incoming = await transport.receive_request_message()
                    outage.recovered()
                except MessageReceiveTimeout:
                    free.release()
                    self.perform_idle_actions()
                    continue
                except InvalidMessageError as exc:
                    free.release()
                    self._count_malformed_request()
                    self._malformed_log.warning("Dropped a malformed request that cannot be answered: %s", exc)
                    continue
                except TransientTransportError as exc:
                    free.release()
                    delay = outage.failed(exc)
                    if delay is None:
                        self.exit_status = 1
                        return
                    await self._pause_unless_stopping_async(delay)
                    continue
                except SOAError:
                    free.release()
                    self.logger.exception("Unhandled server error; shutting down")
                    self.exit_status = 1
                    return
                if self._blocks_the_loop(incoming.body):
                    # A sync action blocks the loop while it runs. Taking no other request meanwhile keeps
                    # requests away from this worker (no pending pop, no idle ZeroMQ lane asking for work):
                    # were one of them the action's own call to this service, it would wait for the action.
                    try:
                        await self.handle_request_async(transport, incoming)
                    finally:
                        free.release()
                    continue
                task = asyncio.create_task(self.handle_request_async(transport, incoming))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _task: free.release())
        finally:
            if running:
                # Graceful stop: the jobs under way finish (harakiri's grace bounds the wait).
                signal.alarm(self.settings["harakiri"]["shutdown_grace"])
                await asyncio.gather(*running, return_exceptions=True)
                signal.alarm(0)
            if self._async_client is not None:
                await self._async_client.aclose()
            await transport.aclose()

    def _blocks_the_loop(self, body: Any) -> bool:
        """Whether a job runs a sync action (or cannot be told apart from one): it then blocks the event loop."""
        if not isinstance(body, dict):
            return False  # answered with an error at once
        actions = body.get("actions")
        if not isinstance(actions, list):
            return False
        async_actions = self._async_actions
        return any(not isinstance(action, dict) or action.get("action") not in async_actions for action in actions)

    async def _pause_unless_stopping_async(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while not self.shutting_down and time.monotonic() < until:
            await asyncio.sleep(min(until - time.monotonic(), _STOP_CHECK_SECONDS))

    async def handle_request_async(self, transport: AsyncServerTransport, incoming: IncomingRequest) -> None:
        """Run one job and send its response; an unhandled failure is logged, never kills the worker."""
        request_id, meta, body, route, refusal = incoming
        if refusal is not None:
            self._count_malformed_request()
            await self._send_response_async(
                transport, route, request_id, meta, self._malformed_request_response(refusal)
            )
            return
        token = push_job_log_context(request_id, body)
        try:
            request_logged = self._job_started(body)
            response = await self.process_job_async(body) if isinstance(body, dict) else self._not_a_dict_response(body)
            failed = self._job_finished(response)
            if not _suppresses_response(body):
                await self._send_response_async(transport, route, request_id, meta, response)
            if request_logged is not None:
                self._log_response(body, response, request_logged, failed)
        except Exception:
            self.logger.exception("Could not answer request %r", request_id)
        finally:
            reset_logging_request_context(token)
            self.perform_post_request_actions()

    async def _send_response_async(
        self,
        transport: AsyncServerTransport,
        route: ReplyRoute,
        request_id: Any,
        meta: dict[str, Any],
        response: JobResponse,
    ) -> None:
        body, include_caller = self._response_body(meta, response)
        try:
            await transport.send_response_message(route, request_id, meta, body)
            return
        except (MessageTooLarge, EncodeError) as exc:
            error_body = self._unsendable_response_body(exc, response.context, include_caller)
        await transport.send_response_message(route, request_id, meta, error_body)

    def _serve(self, outage: TransportOutage) -> None:
        """The one-job-at-a-time loop: receive a request, run its job, send the response, repeat."""
        harakiri_timeout = self._harakiri_timeout
        while not self.shutting_down:
            if harakiri_timeout:
                signal.alarm(harakiri_timeout)
            try:
                self.handle_next_request()
                outage.recovered()
            except TransientTransportError as exc:
                delay = outage.failed(exc)
                if delay is None:
                    self.exit_status = 1
                    return
                self._pause_unless_stopping(delay)
            except HarakiriInterrupt:
                self.logger.error("Harakiri interrupted the server outside a job; shutting down")
                self.exit_status = 1
                return
            except SOAError:
                # Not transient, and not a malformed message (those are answered or dropped in
                # handle_next_request): the configuration or a plugin is broken.
                self.logger.exception("Unhandled server error; shutting down")
                self.exit_status = 1
                return

    def _warn_if_self_calls_can_deadlock(self) -> None:
        """Warn when ``request.client`` routes to this very service and this process is its only worker.

        An action calling its own service then waits for a worker that is busy running that action,
        until the call times out. Workers under a supervisor have a ``forked_process_id``; a single
        worker (``soa serve`` without ``--workers``) has none. An in-process transport is no problem.
        """
        routing = self.settings["client_routing"].get(self.service_name)
        if routing is None or self.forked_process_id is not None:
            return
        client_class = self.client_class
        if client_class is None:
            from pysoa.client.client import Client

            client_class = Client
        try:
            transport_class = client_class.settings_class(routing)["transport"]["object"]
        except SOAError:
            return  # invalid routing is reported when request.client first uses it
        if getattr(transport_class, "serves_in_process", False):
            return
        self.logger.warning(
            "Service %r routes request.client calls to itself (client_routing[%r]) and runs as a single worker: "
            "an action that calls its own service waits for a free worker until its call times out. "
            "Run 2 or more workers (--workers N / -f N), unless other hosts serve %r too.",
            self.service_name,
            self.service_name,
            self.service_name,
        )

    @classmethod
    def initialize(cls, settings: ServerSettings) -> type[Server]:
        """Hook to return a different (e.g. patched) class before the server is built."""
        return cls

    @classmethod
    def pre_fork(cls) -> None:
        """Runs once in the parent process before worker processes are forked."""

    @classmethod
    def main(cls, forked_process_id: int | None = None) -> None:
        """Command-line entry point: ``-s/--settings MODULE`` (unless ``use_django``), ``-d/--daemon``."""
        parser = argparse.ArgumentParser(description=f"Server for the {cls.service_name} SOA service")
        parser.add_argument("-d", "--daemon", action="store_true", help="run the server process as a daemon")
        if not cls.use_django:
            parser.add_argument("-s", "--settings", required=True, help="the settings module to use")
        args, _unknown = parser.parse_known_args()
        if args.daemon:
            pid = os.fork()
            if pid:
                print(f"PID={pid}")
                sys.exit(0)
        if cls.use_django:
            from django.conf import settings as django_settings

            raw_settings = django_settings.SOA_SERVER_SETTINGS
        else:
            import importlib

            module = importlib.import_module(args.settings)
            raw_settings = getattr(module, "SOA_SERVER_SETTINGS", None) or module.settings
        settings = cls.settings_class(raw_settings)
        PySOALogContextFilter.set_service_name(cls.service_name or "unknown")
        logging.config.dictConfig(dict(settings["logging"]))
        server = cls.initialize(settings)(settings, forked_process_id)
        server.run()
        if server.exit_status:
            sys.exit(server.exit_status)


def _version() -> str:
    from pysoa.version import __version__

    return __version__


class _FunctionAction:
    """Adapts a plain function ``f(request) -> body dict | ActionResponse`` to the action protocol."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[EnrichedActionRequest], Any]) -> None:
        self.function = function

    def __call__(self, request: EnrichedActionRequest) -> Any:
        result = self.function(request)
        if isinstance(result, ActionResponse):
            return result
        if result is not None and not isinstance(result, dict) and inspect.isawaitable(result):
            return self._respond_later(request, result)
        return ActionResponse._successful(request.action, result if result is not None else {})

    async def _respond_later(self, request: EnrichedActionRequest, pending: Awaitable[Any]) -> ActionResponse:
        result = await pending
        if isinstance(result, ActionResponse):
            return result
        return ActionResponse(request.action, body=result if result is not None else {})


def _has_async_variants(middleware: ServerMiddleware) -> bool:
    """Whether ``middleware`` wraps async jobs and actions wherever it wraps sync ones."""
    cls = type(middleware)
    if cls.job is not ServerMiddleware.job and cls.async_job is ServerMiddleware.async_job:
        return False
    return cls.action is ServerMiddleware.action or cls.async_action is not ServerMiddleware.async_action


def _is_async_action(target: Any) -> bool:
    """Whether an ``action_class_map`` entry is an ``async def`` action (a class or an action function)."""
    if isinstance(target, type):
        return inspect.iscoroutinefunction(getattr(target, "run", None))
    return _is_request_function(target) and inspect.iscoroutinefunction(target)


def _action_factory(target: Any) -> Callable[[Any], Any]:
    """Turn an ``action_class_map`` value into ``factory(settings) -> callable(request)``."""
    if isinstance(target, type):
        return target  # a class: instantiated with the settings per call, as PySOA does
    if _is_request_function(target):
        adapted = _FunctionAction(target)
        return lambda _settings: adapted
    factory: Callable[[Any], Any] = target  # a factory callable (PySOA's contract): factory(settings) -> action
    return factory


def _is_request_function(target: Any) -> bool:
    """Whether ``target`` is an action function (takes the request) rather than a factory (takes settings).

    Functions decorated with :func:`pysoa.server.action.action_function`, or whose first parameter
    is named ``request`` or ``action_request``, are action functions.
    """
    if getattr(target, "__soa_action_function__", False):
        return True
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        return False
    try:
        parameters = list(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return False
    return bool(parameters) and parameters[0] in ("request", "action_request")
