"""The job and action data model, and its conversion to and from wire dicts.

As in PySOA, these are ``attrs`` classes (slotted, for speed), so PySOA-era code that uses
``attr.asdict``, ``attr.evolve`` or ``attr.fields`` on them, or subclasses them with ``@attr.s``
and extra ``attr.ib`` fields, keeps working. Dict key order on the wire is the field order below
(PySOA's order), which matters only for byte-identical output. The per-call conversions are
hand-written ``to_dict``/``from_dict`` methods rather than ``attr.asdict``, which is generic and
several times slower.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

import attr

__all__ = [
    "ActionRequest",
    "ActionResponse",
    "Body",
    "Context",
    "Control",
    "Error",
    "JobRequest",
    "JobResponse",
    "UnicodeKeysDict",
]

Body: TypeAlias = dict[str, Any]
"""An action request or response body (PySOA's name, for type hints)."""
Context: TypeAlias = dict[str, Any]
"""A job request or response ``context`` header (PySOA's name, for type hints)."""
Control: TypeAlias = dict[str, Any]
"""A job request ``control`` header (PySOA's name, for type hints)."""

# Clients older than this do not know the ``is_caller_error`` key (PySOA's attrs version filter).
IS_CALLER_ERROR_SINCE = (0, 70, 0)


@attr.s(frozen=True, slots=True, auto_attribs=True)
class Error:
    """One protocol error; every key travels on the wire (``None`` as nil)."""

    code: str | None = None
    message: str | None = None
    field: str | None = None
    traceback: str | None = None
    variables: Mapping[str, Any] | None = None
    denied_permissions: list[str] | None = None
    is_caller_error: bool = attr.ib(default=False, metadata={"added_in_version": IS_CALLER_ERROR_SINCE})

    def with_caller_error(self, is_caller_error: bool) -> Error:
        if self.is_caller_error is is_caller_error:
            return self
        return Error(
            self.code,
            self.message,
            self.field,
            self.traceback,
            self.variables,
            self.denied_permissions,
            is_caller_error,
        )

    def to_dict(self, include_is_caller_error: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "field": self.field,
            "traceback": self.traceback,
            "variables": self.variables,
            "denied_permissions": self.denied_permissions,
        }
        if include_is_caller_error:
            d["is_caller_error"] = self.is_caller_error
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | Error) -> Error:
        if isinstance(d, Error):
            return d
        return cls(
            d.get("code"),
            d.get("message"),
            d.get("field"),
            d.get("traceback"),
            d.get("variables"),
            d.get("denied_permissions"),
            bool(d.get("is_caller_error", False)),
        )


def _error_dicts(errors: Iterable[Error], include_is_caller_error: bool) -> list[dict[str, Any]]:
    """The wire form of a list of errors (callers skip the call for the usual empty list)."""
    return [e.to_dict(include_is_caller_error) for e in errors]


def _errors(items: Iterable[Mapping[str, Any] | Error] | None) -> list[Error]:
    """Errors given as dicts (the wire form) become :class:`Error`; ``None`` is no errors."""
    if not items:
        return []
    return [e if isinstance(e, Error) else Error.from_dict(e) for e in items]


# Responses are built from wire dicts by setting their slots directly (see ``JobResponse.from_dict``).
_new_instance = object.__new__


def _dict_or_empty(value: dict[str, Any] | None) -> dict[str, Any]:
    return {} if value is None else value


def _action_requests(actions: Iterable[Mapping[str, Any] | ActionRequest] | None) -> list[ActionRequest]:
    if not actions:
        return []
    return [
        a if isinstance(a, ActionRequest) else ActionRequest(a["action"], dict(a.get("body") or {})) for a in actions
    ]


def _action_responses(actions: Iterable[Mapping[str, Any] | ActionResponse] | None) -> list[ActionResponse]:
    if not actions:
        return []
    return [a if isinstance(a, ActionResponse) else ActionResponse.from_dict(a) for a in actions]


@attr.s(slots=True, auto_attribs=True)
class ActionRequest:
    action: str
    body: dict[str, Any] = attr.ib(default=None, converter=_dict_or_empty)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "body": self.body}


@attr.s(slots=True, auto_attribs=True)
class ActionResponse:
    """The outcome of one action: its name, its errors (empty on success) and its response body."""

    action: str
    errors: list[Error] = attr.ib(default=None, converter=_errors)
    body: dict[str, Any] = attr.ib(default=None, converter=_dict_or_empty)

    def to_dict(self, include_is_caller_error: bool = True) -> dict[str, Any]:
        errors = self.errors
        return {
            "action": self.action,
            "errors": _error_dicts(errors, include_is_caller_error) if errors else [],
            "body": self.body,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ActionResponse:
        if cls is ActionResponse:
            return _action_response(d)
        return cls(d["action"], d.get("errors"), d.get("body"))

    @classmethod
    def _successful(cls, action: str, body: dict[str, Any]) -> ActionResponse:
        """``cls(action, body=body)`` for a ``body`` dict, without running the converters (a server's hot path)."""
        response = object.__new__(cls)
        response.action = action
        response.errors = []
        response.body = body
        return response


@attr.s(slots=True, auto_attribs=True)
class JobRequest:
    control: dict[str, Any] = attr.ib(default=None, converter=_dict_or_empty)
    context: dict[str, Any] = attr.ib(default=None, converter=_dict_or_empty)
    actions: list[ActionRequest] = attr.ib(default=None, converter=_action_requests)

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "context": self.context,
            "actions": [a.to_dict() for a in self.actions],
        }


@attr.s(slots=True, auto_attribs=True)
class JobResponse:
    """The outcome of one job: job-level errors, the response context, and one response per action run."""

    errors: list[Error] = attr.ib(default=None, converter=_errors)
    context: dict[str, Any] = attr.ib(default=None, converter=_dict_or_empty)
    actions: list[ActionResponse] = attr.ib(default=None, converter=_action_responses)

    def to_dict(self, include_is_caller_error: bool = True) -> dict[str, Any]:
        return _job_response_dict(self.errors, self.context, self.actions, include_is_caller_error)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobResponse:
        if cls is not JobResponse:
            # A subclass may add fields with defaults or its own __init__: build it the usual way.
            return cls(d.get("errors"), d.get("context"), d.get("actions"))
        # One per call: the converters' work done inline, without attrs' __init__ and a call per field.
        response = _new_instance(JobResponse)
        errors = d.get("errors")
        response.errors = _errors(errors) if errors else []
        context = d.get("context")
        response.context = {} if context is None else context
        actions = d.get("actions")
        built: list[ActionResponse] = []
        if actions:
            # A loop, not a comprehension, which would be one more function (made and called) per response.
            for a in actions:
                built.append(a if isinstance(a, ActionResponse) else _action_response(a))
        response.actions = built
        return response

    @classmethod
    def _of_actions(cls, actions: list[ActionResponse]) -> JobResponse:
        """``cls(actions=actions)`` for a list the caller hands over, without the converters (a server's hot path)."""
        response = object.__new__(cls)
        response.errors = []
        response.context = {}
        response.actions = actions
        return response


def _job_response_dict(
    errors: list[Error], context: dict[str, Any], actions: Iterable[ActionResponse], include_is_caller_error: bool
) -> dict[str, Any]:
    """The wire form of a job response with these fields: what ``to_dict`` returns, for a server that has the
    fields and would build the :class:`JobResponse` only to convert it."""
    action_dicts = []
    for action in actions:  # a loop, not a comprehension, which would be one more function call
        action_dicts.append(action.to_dict(include_is_caller_error))
    return {
        "errors": _error_dicts(errors, include_is_caller_error) if errors else [],
        "context": context,
        "actions": action_dicts,
    }


def _action_response(d: Mapping[str, Any]) -> ActionResponse:
    """``ActionResponse.from_dict`` for the class itself: what its ``__init__`` converters do, inline."""
    response = _new_instance(ActionResponse)
    response.action = d["action"]
    errors = d.get("errors")
    response.errors = _errors(errors) if errors else []
    body = d.get("body")
    response.body = {} if body is None else body
    return response


class UnicodeKeysDict(dict[str, Any]):
    """A dict that coerces keys to ``str`` (kept for PySOA code that imports it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.update(*args, **kwargs)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(str(key), value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v
