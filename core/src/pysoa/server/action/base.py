"""The :class:`Action` base class: validate the request, run, validate the response."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from conformity import fields

from pysoa.common.types import ActionResponse, Error
from pysoa.errors import ActionError, ResponseValidationError
from pysoa.server.types import ActionInterface, EnrichedActionRequest

__all__ = ["Action"]


class Action(ActionInterface):
    """Subclass and implement :meth:`run`; set ``request_schema`` / ``response_schema`` to validate bodies.

    As in PySOA, ``run`` is abstract: a class that does not implement it cannot be instantiated.

    Calling the action (``action(request)``) validates ``request.body`` (errors become caller
    errors), calls :meth:`validate`, then :meth:`run`, then validates what ``run`` returned (a
    mismatch is a server bug, raised as :class:`ResponseValidationError`).
    """

    description: ClassVar[str | None] = None
    request_schema: ClassVar[fields.Base | None] = None
    response_schema: ClassVar[fields.Base | None] = None

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings

    def validate(self, request: EnrichedActionRequest) -> None:
        """Extra validation after the schema passed; raise :class:`ActionError` to reject the request."""

    @abstractmethod
    def run(self, request: EnrichedActionRequest) -> dict[str, Any] | None:
        """Do the work and return the response body."""

    def __call__(self, action_request: EnrichedActionRequest) -> ActionResponse:
        if self.request_schema is not None:
            errors = self.request_schema.errors(action_request.body)
            if errors:
                raise ActionError(
                    [Error(code=e.code, message=e.message, field=e.pointer, is_caller_error=True) for e in errors]
                )
        self.validate(action_request)
        body = self.run(action_request)
        if body is None:
            body = {}
        if self.response_schema is not None:
            errors = self.response_schema.errors(body)
            if errors:
                raise ResponseValidationError(action_request.action, errors)
        return ActionResponse(action=action_request.action, body=body)
