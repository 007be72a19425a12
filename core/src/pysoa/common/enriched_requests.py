"""What server middleware and actions receive: the enriched job and action requests.

These are contracts (server middleware is typed against them), so they live below the client and
the server: the client a request carries and the server that built it are seen through the narrow
protocols :class:`RequestClient` and :class:`ActionServer`, which :class:`pysoa.client.Client` and
:class:`pysoa.server.Server` satisfy. :mod:`pysoa.server.types` serves them under PySOA's path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import attr

from pysoa.common.constants import ERROR_CODE_SERVER_ERROR, ERROR_CODE_UNKNOWN
from pysoa.common.switches import RequestSwitchSet
from pysoa.common.types import ActionRequest, ActionResponse, Error, JobRequest
from pysoa.errors import ActionError

__all__ = [
    "ActionServer",
    "EnrichedActionRequest",
    "EnrichedJobRequest",
    "RequestClient",
]


class RequestClient(Protocol):
    """The client a request carries (``request.client``): what an action may call on it.

    :class:`pysoa.client.Client` is the implementation; the blocking calls are typed as it types them,
    the futures and the non-blocking primitives loosely (see the client for their parameters).
    """

    @property
    def settings(self) -> Mapping[str, Any]:
        """The client settings of each service this client can call, by service name."""
        ...

    #: The context every call of this client sends (the job's context, for ``request.client``).
    context: dict[str, Any]

    def with_context(self, context: Mapping[str, Any]) -> RequestClient: ...

    def call_action(
        self, service_name: str, action: str, body: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any: ...

    def call_actions(
        self, service_name: str, actions: Iterable[Mapping[str, Any] | ActionRequest], **kwargs: Any
    ) -> Any: ...

    def call_actions_parallel(
        self, service_name: str, actions: Iterable[Mapping[str, Any] | ActionRequest], **kwargs: Any
    ) -> Any: ...

    def call_jobs_parallel(self, jobs: Iterable[Mapping[str, Any]], **kwargs: Any) -> Any: ...

    def call_action_future(self, *args: Any, **kwargs: Any) -> Any: ...

    def call_actions_future(self, *args: Any, **kwargs: Any) -> Any: ...

    def call_actions_parallel_future(self, *args: Any, **kwargs: Any) -> Any: ...

    def call_jobs_parallel_future(self, *args: Any, **kwargs: Any) -> Any: ...

    def send_request(self, *args: Any, **kwargs: Any) -> Any: ...

    def get_all_responses(self, *args: Any, **kwargs: Any) -> Any: ...


class ActionServer(Protocol):
    """What :meth:`EnrichedActionRequest.call_local_action` needs of the server that built a request."""

    @property
    def settings(self) -> Any:
        """The server's settings, which every action factory is called with."""
        ...

    def get_action_factory(self, name: str) -> Callable[[Any], Any] | None:
        """``factory(settings) -> callable(request) -> ActionResponse`` for ``name``, or ``None``."""
        ...


@attr.s(slots=True, auto_attribs=True)
class EnrichedJobRequest(JobRequest):
    """The job request as job middleware sees it, with the per-job client and the job's deadline.

    ``deadline`` is the ``time.monotonic()`` instant by which the caller stops waiting, or ``None``
    when the request sets none (see docs/deadlines.md).
    """

    client: RequestClient | None = None
    run_coroutine: Callable[..., Any] | None = None
    deadline: float | None = None

    @classmethod
    def _of_valid_job(
        cls,
        job: Mapping[str, Any],
        client: RequestClient | None,
        run_coroutine: Callable[..., Any] | None,
        deadline: float | None,
    ) -> EnrichedJobRequest:
        """The request of a job dict that passed the job schema, built without running the converters.

        The server builds one per job; the converters would only re-check what the schema did. Each
        action's body is copied, as the converter copies it.
        """
        request = object.__new__(cls)
        request.control = job["control"]
        request.context = job["context"]
        actions = []
        for action in job["actions"]:
            action_request = object.__new__(ActionRequest)
            action_request.action = action["action"]
            body = action.get("body")
            action_request.body = dict(body) if body else {}
            actions.append(action_request)
        request.actions = actions
        request.client = client
        request.run_coroutine = run_coroutine
        request.deadline = deadline
        return request


def _switch_set(switches: RequestSwitchSet | Iterable[Any] | None) -> RequestSwitchSet:
    return switches if isinstance(switches, RequestSwitchSet) else RequestSwitchSet(switches or ())


class _ServerBoundActionRequest(ActionRequest):
    """Gives the slotted request a slot for the server that built it (not an attrs field, as in PySOA:
    ``attr.asdict``/``attr.evolve`` leave it out)."""

    __slots__ = ("_server",)
    # The server that built the request (an ActionServer). Typed Any because mypy's attrs plugin does not see that a
    # slotted attrs subclass inherits this slot, and would reject ``request._server = server``.
    _server: Any


@attr.s(slots=True, auto_attribs=True)
class EnrichedActionRequest(_ServerBoundActionRequest):
    """The request an action's ``run`` receives: the action request plus the job's switches,
    context and control, the per-job client and ``run_coroutine``.

    A server's ``request_class`` may be a subclass adding fields, as in PySOA: an ``@attr.s``
    subclass whose extra ``attr.ib`` fields have defaults. ``call_local_action`` copies every
    field, the subclass's included.
    """

    switches: RequestSwitchSet = attr.ib(default=None, converter=_switch_set)
    context: dict[str, Any] = attr.ib(factory=dict)
    control: dict[str, Any] = attr.ib(factory=dict)
    client: RequestClient | None = None
    run_coroutine: Callable[..., Any] | None = None
    # The time.monotonic() instant by which the caller stops waiting, or None; time_left() gives the
    # seconds until then, and calls made through ``client`` end by it (see docs/deadlines.md).
    deadline: float | None = None

    @classmethod
    def _for_server(
        cls,
        server: ActionServer,
        action: str,
        body: dict[str, Any],
        switches: RequestSwitchSet,
        context: dict[str, Any],
        control: dict[str, Any],
        client: RequestClient | None,
        run_coroutine: Callable[..., Any] | None,
        deadline: float | None,
    ) -> EnrichedActionRequest:
        """The request ``server`` hands an action of a job, built without running the converters.

        The server builds one per action from values that already have the fields' types (``context``,
        ``control`` and ``run_coroutine`` are the job's). Only for this class itself: a subclass may add
        fields, which its own ``__init__`` sets.
        """
        request = object.__new__(cls)
        request.action = action
        request.body = {} if body is None else body  # as the converter: job middleware may have left a None
        request.switches = switches
        request.context = context
        request.control = control
        request.client = client
        request.run_coroutine = run_coroutine
        request.deadline = deadline
        request._server = server
        return request

    def time_left(self) -> float | None:
        """Seconds until the deadline (never negative), or ``None`` when the request has no deadline."""
        deadline = self.deadline
        if deadline is None:
            return None
        return max(deadline - time.monotonic(), 0.0)

    def call_local_action(
        self,
        action: str,
        body: dict[str, Any] | None = None,
        raise_action_errors: bool = True,
        is_caller_error: bool = False,
        context: Mapping[str, Any] | None = None,
    ) -> ActionResponse:
        """Run another action of this server in-process (no transport, no middleware).

        The called action gets a copy of this request (every field, a subclass's included) with
        the new action and body, and this context updated with ``context``. Errors are raised as
        :class:`ActionError` (marked ``is_caller_error``), or with ``raise_action_errors=False``
        returned in the response. A request no server built (so without a server to run the
        action on) gets a ``SERVER_ERROR``, and an action the server lacks an ``UNKNOWN`` error.
        """
        server: ActionServer | None = getattr(self, "_server", None)
        if server is None:
            return _local_failure(
                action,
                Error(
                    code=ERROR_CODE_SERVER_ERROR,
                    message="call_local_action needs a request built by a server, and this one has no _server",
                    is_caller_error=False,
                ),
                raise_action_errors,
            )
        action_factory = server.get_action_factory(action)
        if action_factory is None:
            return _local_failure(
                action,
                Error(
                    code=ERROR_CODE_UNKNOWN,
                    message=f'The action "{action}" was not found on this server.',
                    field="action",
                    is_caller_error=is_caller_error,
                ),
                raise_action_errors,
            )
        new_context = dict(self.context)
        if context:
            new_context.update(context)
        request = attr.evolve(self, action=action, body=dict(body or {}), context=new_context)
        request._server = server
        try:
            response: ActionResponse = action_factory(server.settings)(request)
        except ActionError as exc:
            if raise_action_errors:
                raise ActionError(exc.errors, set_is_caller_error_to=is_caller_error) from exc
            return ActionResponse(action, errors=[e.with_caller_error(is_caller_error) for e in exc.errors])
        if response.errors and raise_action_errors:
            raise ActionError(response.errors, set_is_caller_error_to=is_caller_error)
        return response


def _local_failure(action: str, error: Error, raise_action_errors: bool) -> ActionResponse:
    if raise_action_errors:
        raise ActionError([error], set_is_caller_error_to=None)
    return ActionResponse(action, errors=[error])
