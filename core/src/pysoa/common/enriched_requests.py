"""What an action receives: the enriched request, its switches, and a client for chained calls."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import attr

from pysoa.common.constants import ERROR_CODE_SERVER_ERROR, ERROR_CODE_UNKNOWN
from pysoa.common.switches import RequestSwitchSet, get_switch, is_switch
from pysoa.common.types import ActionRequest, ActionResponse, Error, JobRequest
from pysoa.errors import ActionError

if TYPE_CHECKING:
    from pysoa.client.client import Client
    from pysoa.server.server import Server
    from pysoa.server.settings import ServerSettings

__all__ = [
    "ActionInterface",
    "ActionType",
    "EnrichedActionRequest",
    "EnrichedJobRequest",
    "RequestSwitchSet",
    "get_switch",
    "is_switch",
]


@attr.s(slots=True, auto_attribs=True)
class EnrichedJobRequest(JobRequest):
    """The job request as job middleware sees it, with the per-job client."""

    client: Client | None = None
    run_coroutine: Callable[..., Any] | None = None


def _switch_set(switches: RequestSwitchSet | Iterable[Any] | None) -> RequestSwitchSet:
    return switches if isinstance(switches, RequestSwitchSet) else RequestSwitchSet(switches or ())


class _ServerBoundActionRequest(ActionRequest):
    """Gives the slotted request a slot for the server that built it (not an attrs field, as in PySOA:
    ``attr.asdict``/``attr.evolve`` leave it out)."""

    __slots__ = ("_server",)
    # The Server that built the request. Typed Any because mypy's attrs plugin does not see that a
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
    client: Client | None = None
    run_coroutine: Callable[..., Any] | None = None

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
        server: Server | None = getattr(self, "_server", None)
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


class ActionInterface(abc.ABC):
    """What the server expects of an action class: built with the server's settings, then called per request.

    Most actions extend :class:`pysoa.server.action.base.Action`, which implements it (as in PySOA).
    """

    @abc.abstractmethod
    def __init__(self, settings: ServerSettings | None = None) -> None: ...

    @abc.abstractmethod
    def __call__(self, action_request: EnrichedActionRequest) -> ActionResponse: ...


ActionType: TypeAlias = (
    type[ActionInterface] | Callable[["ServerSettings | None"], Callable[[EnrichedActionRequest], ActionResponse]]
)
"""An entry of ``action_class_map``: an action class, or a factory taking the settings and returning a callable."""


def _local_failure(action: str, error: Error, raise_action_errors: bool) -> ActionResponse:
    if raise_action_errors:
        raise ActionError([error], set_is_caller_error_to=None)
    return ActionResponse(action, errors=[error])
