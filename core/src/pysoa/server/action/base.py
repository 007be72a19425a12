"""The :class:`Action` base class: validate the request, run, validate the response."""

from __future__ import annotations

import inspect
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar

from conformity import fields

from pysoa.common.types import ActionResponse, Error
from pysoa.errors import ActionError, ResponseValidationError
from pysoa.server.action._schema_check import compiled_check, schema_errors
from pysoa.server.types import ActionInterface, EnrichedActionRequest

__all__ = ["Action"]

_Check = Callable[[Any], bool]
# By action class: its request schema and that schema's compiled check, its response schema and that one's, as
# last seen (an action is built per call, so its class is where they can be kept). A None check: Conformity's.
_checks_by_class: dict[type, tuple[Any, _Check | None, Any, _Check | None]] = {}


def _checks_of(action: Action) -> tuple[Any, _Check | None, Any, _Check | None]:
    request_schema = action.request_schema
    response_schema = action.response_schema
    checks = _checks_by_class.get(type(action))
    if checks is None or checks[0] is not request_schema or checks[2] is not response_schema:
        checks = (
            request_schema,
            None if request_schema is None else compiled_check(request_schema),
            response_schema,
            None if response_schema is None else compiled_check(response_schema),
        )
        _checks_by_class[type(action)] = checks
    return checks


class Action(ActionInterface):
    """Subclass and implement :meth:`run`; set ``request_schema`` / ``response_schema`` to validate bodies.

    As in PySOA, ``run`` is abstract: a class that does not implement it cannot be instantiated.

    Calling the action (``action(request)``) validates ``request.body`` (errors become caller
    errors), calls :meth:`validate`, then :meth:`run`, then validates what ``run`` returned (a
    mismatch is a server bug, raised as :class:`ResponseValidationError`).

    ``run`` may be ``async def``: calling the action then returns a coroutine that awaits ``run``
    and gives the validated :class:`ActionResponse` (the server awaits it; see docs/actions.md).
    """

    description: ClassVar[str | None] = None
    request_schema: ClassVar[fields.Base | None] = None
    response_schema: ClassVar[fields.Base | None] = None

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings

    def validate(self, request: EnrichedActionRequest) -> None:
        """Extra validation after the schema passed; raise :class:`ActionError` to reject the request."""

    @abstractmethod
    def run(self, request: EnrichedActionRequest) -> dict[str, Any] | Coroutine[Any, Any, dict[str, Any] | None] | None:
        """Do the work and return the response body (``async def run`` may await, see above)."""

    def __call__(self, action_request: EnrichedActionRequest) -> Any:
        request_schema = self.request_schema
        if request_schema is not None:
            # schema_errors' first step, without its call: the compiled check kept for this class.
            checks = _checks_by_class.get(type(self))
            check = checks[1] if checks is not None and checks[0] is request_schema else _checks_of(self)[1]
            if check is None or not check(action_request.body):
                errors = schema_errors(request_schema, action_request.body)
                if errors:
                    raise ActionError(
                        [Error(code=e.code, message=e.message, field=e.pointer, is_caller_error=True) for e in errors]
                    )
        if type(self).validate is not Action.validate:  # Action's own does nothing
            self.validate(action_request)
        body: Any = self.run(action_request)
        if body is not None and not isinstance(body, dict) and inspect.isawaitable(body):
            return self._respond_later(action_request, body)
        return self._respond(action_request, body)

    async def _respond_later(self, action_request: EnrichedActionRequest, pending: Awaitable[Any]) -> ActionResponse:
        return self._respond(action_request, await pending)

    def _respond(self, action_request: EnrichedActionRequest, body: Any) -> ActionResponse:
        if body is None:
            body = {}
        response_schema = self.response_schema
        if response_schema is not None:
            checks = _checks_by_class.get(type(self))
            check = checks[3] if checks is not None and checks[2] is response_schema else _checks_of(self)[3]
            if check is None or not check(body):
                errors = schema_errors(response_schema, body)
                if errors:
                    raise ResponseValidationError(action_request.action, errors)
        return ActionResponse._successful(action_request.action, body)
