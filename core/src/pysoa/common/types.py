"""The job and action data model, and its conversion to and from wire dicts.

Dict key order on the wire is the field order below (PySOA's order), which matters only for
byte-identical output. Conversions are hand-written rather than generic (``dataclasses.asdict``)
because they sit on every call's path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

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


@dataclass(frozen=True, slots=True)
class Error:
    """One protocol error; every key travels on the wire (``None`` as nil)."""

    code: str | None = None
    message: str | None = None
    field: str | None = None
    traceback: str | None = None
    variables: Mapping[str, Any] | None = None
    denied_permissions: list[str] | None = None
    is_caller_error: bool = False

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


def _errors(items: Iterable[Mapping[str, Any] | Error] | None) -> list[Error]:
    if not items:
        return []
    return [e if isinstance(e, Error) else Error.from_dict(e) for e in items]


@dataclass(slots=True)
class ActionRequest:
    action: str
    body: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "body": self.body}


@dataclass(slots=True, init=False)
class ActionResponse:
    """The outcome of one action: its name, its errors (empty on success) and its response body."""

    action: str
    errors: list[Error]
    body: dict[str, Any]

    def __init__(
        self,
        action: str,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.action = action
        self.errors = _errors(errors)
        self.body = {} if body is None else body

    def to_dict(self, include_is_caller_error: bool = True) -> dict[str, Any]:
        return {
            "action": self.action,
            "errors": [e.to_dict(include_is_caller_error) for e in self.errors],
            "body": self.body,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ActionResponse:
        return cls(d["action"], d.get("errors"), d.get("body"))


@dataclass(slots=True, init=False)
class JobRequest:
    control: dict[str, Any]
    context: dict[str, Any]
    actions: list[ActionRequest]

    def __init__(
        self,
        control: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        actions: Iterable[Mapping[str, Any] | ActionRequest] | None = None,
    ) -> None:
        self.control = {} if control is None else control
        self.context = {} if context is None else context
        self.actions = [
            a if isinstance(a, ActionRequest) else ActionRequest(a["action"], dict(a.get("body") or {}))
            for a in (actions or ())
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "context": self.context,
            "actions": [a.to_dict() for a in self.actions],
        }


@dataclass(slots=True, init=False)
class JobResponse:
    """The outcome of one job: job-level errors, the response context, and one response per action run."""

    errors: list[Error]
    context: dict[str, Any]
    actions: list[ActionResponse]

    def __init__(
        self,
        errors: Iterable[Mapping[str, Any] | Error] | None = None,
        context: dict[str, Any] | None = None,
        actions: Iterable[Mapping[str, Any] | ActionResponse] | None = None,
    ) -> None:
        self.errors = _errors(errors)
        self.context = {} if context is None else context
        self.actions = [a if isinstance(a, ActionResponse) else ActionResponse.from_dict(a) for a in (actions or ())]

    def to_dict(self, include_is_caller_error: bool = True) -> dict[str, Any]:
        return {
            "errors": [e.to_dict(include_is_caller_error) for e in self.errors],
            "context": self.context,
            "actions": [a.to_dict(include_is_caller_error) for a in self.actions],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobResponse:
        return cls(d.get("errors"), d.get("context"), d.get("actions"))


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
