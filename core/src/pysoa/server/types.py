"""What an action receives: the enriched request, its switches, and a client for chained calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pysoa.common.types import ActionRequest, ActionResponse, Error, JobRequest
from pysoa.errors import ActionError

if TYPE_CHECKING:
    from pysoa.client.client import Client
    from pysoa.server.server import Server

__all__ = ["EnrichedActionRequest", "EnrichedJobRequest", "RequestSwitchSet", "get_switch", "is_switch"]


def is_switch(value: Any) -> bool:
    """A switch is an int, anything with ``__int__``, or anything whose ``.value`` has ``__int__``."""
    return hasattr(value, "__int__") or hasattr(getattr(value, "value", None), "__int__")


def get_switch(value: Any) -> int:
    if isinstance(value, int):
        return value
    if hasattr(value, "__int__"):
        return int(value)
    inner = getattr(value, "value", None)
    if inner is not None and hasattr(inner, "__int__"):
        return int(inner)
    raise ValueError(f"{value!r} is not a switch (an int, or has __int__ or .value)")


class RequestSwitchSet(frozenset[int]):
    """The switches active for a request; ``is_active`` and ``in`` accept switch objects as well as ints."""

    def __new__(cls, switches: Iterable[Any] = ()) -> RequestSwitchSet:
        return super().__new__(cls, (get_switch(s) for s in switches))

    def is_active(self, switch: Any) -> bool:
        return frozenset.__contains__(self, get_switch(switch))

    def __contains__(self, switch: object) -> bool:
        return self.is_active(switch)


class EnrichedJobRequest(JobRequest):
    """The job request as job middleware sees it, with the per-job client and the job's deadline.

    ``deadline`` is the ``time.monotonic()`` instant by which the caller stops waiting, or ``None``
    when the request sets none (see docs/deadlines.md).
    """

    __slots__ = ("client", "deadline", "run_coroutine")

    def __init__(
        self,
        control: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        actions: Iterable[Mapping[str, Any] | ActionRequest] | None = None,
        client: Client | None = None,
        run_coroutine: Callable[..., Any] | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__(control, context, actions)
        self.client = client
        self.run_coroutine = run_coroutine
        self.deadline = deadline


class EnrichedActionRequest:
    """The request an action's ``run`` receives.

    ``deadline`` is the ``time.monotonic()`` instant by which the caller stops waiting, or ``None``
    when the request sets none; :meth:`time_left` gives the seconds until then. Calls made through
    ``client`` end by that deadline (see docs/deadlines.md).
    """

    __slots__ = (
        "_server",
        "action",
        "body",
        "client",
        "context",
        "control",
        "deadline",
        "run_coroutine",
        "switches",
    )

    def __init__(
        self,
        action: str,
        body: dict[str, Any] | None = None,
        switches: RequestSwitchSet | Iterable[Any] | None = None,
        context: dict[str, Any] | None = None,
        control: dict[str, Any] | None = None,
        client: Client | None = None,
        run_coroutine: Callable[..., Any] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.action = action
        self.body = {} if body is None else body
        self.switches = switches if isinstance(switches, RequestSwitchSet) else RequestSwitchSet(switches or ())
        self.context = {} if context is None else context
        self.control = {} if control is None else control
        self.client = client
        self.run_coroutine = run_coroutine
        self.deadline = deadline
        # Set by the server that built this request; call_local_action needs it.
        self._server: Server | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(action={self.action!r}, body={self.body!r}, switches={set(self.switches)!r})"

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
        """Run another action of this server in-process (no transport, no middleware)."""
        server = self._server
        if server is None:
            raise RuntimeError("call_local_action needs a request built by a server")
        action_factory = server.get_action_factory(action)
        if action_factory is None:
            unknown = ActionResponse(
                action,
                errors=[
                    Error(
                        code="UNKNOWN",
                        message=f'The action "{action}" was not found on this server.',
                        field="action",
                        is_caller_error=is_caller_error,
                    )
                ],
            )
            if raise_action_errors:
                raise ActionError(unknown.errors, set_is_caller_error_to=None)
            return unknown
        new_context = dict(self.context)
        if context:
            new_context.update(context)
        request = type(self)(
            action=action,
            body=dict(body or {}),
            switches=self.switches,
            context=new_context,
            control=self.control,
            client=self.client,
            run_coroutine=self.run_coroutine,
            deadline=self.deadline,
        )
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
