"""Actions that pick an implementation by the request's switches."""

from __future__ import annotations

from abc import ABCMeta
from collections.abc import Sequence
from typing import Any, ClassVar

from pysoa.common.switches import get_switch, is_switch
from pysoa.common.types import ActionResponse
from pysoa.server.types import EnrichedActionRequest

__all__ = ["SwitchedAction"]


class _DefaultAction:
    def __int__(self) -> int:
        # Never equal to a real switch: switches on the wire are non-negative in practice, and this
        # object is compared by identity before any int conversion.
        return -(2**63)

    def __repr__(self) -> str:
        return "SwitchedAction.DEFAULT_ACTION"


class _SwitchedActionMeta(ABCMeta):
    def __new__(mcs, name: str, bases: tuple[type, ...], body: dict[str, Any]) -> _SwitchedActionMeta:
        if "DEFAULT_ACTION" in body and any(isinstance(b, _SwitchedActionMeta) for b in bases):
            raise TypeError("You cannot override DEFAULT_ACTION")
        cls = super().__new__(mcs, name, bases, body)
        if any(isinstance(b, _SwitchedActionMeta) for b in bases):
            if len([b for b in bases if isinstance(b, _SwitchedActionMeta)]) > 1:
                raise TypeError("Multiple inheritance of switched actions is not supported")
            mcs._check_map(name, body.get("switch_to_action_map", getattr(cls, "switch_to_action_map", ())))
        return cls

    @staticmethod
    def _check_map(name: str, mapping: Any) -> None:
        if not isinstance(mapping, Sequence) or len(mapping) < 2:
            raise ValueError(f"{name}.switch_to_action_map must be a sequence of at least two (switch, action) pairs")
        for pair in mapping:
            if not isinstance(pair, Sequence) or len(pair) != 2:
                raise ValueError(f"{name}.switch_to_action_map items must be (switch, action) pairs, got {pair!r}")
            switch, action = pair
            if switch is not SwitchedAction.DEFAULT_ACTION and not is_switch(switch):
                raise ValueError(f"{name}: {switch!r} is not a switch")
            if not callable(action):
                raise ValueError(f"{name}: {action!r} is not an action class")


class SwitchedAction(metaclass=_SwitchedActionMeta):
    """Runs the action of the first ``(switch, action)`` pair whose switch is active.

    When none is active, the pair whose switch is ``SwitchedAction.DEFAULT_ACTION`` runs, or else
    the last pair.
    """

    DEFAULT_ACTION: ClassVar[Any] = _DefaultAction()
    switch_to_action_map: ClassVar[Sequence[tuple[Any, Any]]] = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> SwitchedAction:
        if cls is SwitchedAction:
            raise TypeError("SwitchedAction is abstract: subclass it with a switch_to_action_map")
        return super().__new__(cls)

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings

    def get_uninitialized_action(self, action_request: EnrichedActionRequest) -> Any:
        default = None
        for switch, action in self.switch_to_action_map:
            if switch is self.DEFAULT_ACTION:
                default = action
            elif action_request.switches.is_active(get_switch(switch)):
                return action
        return default if default is not None else self.switch_to_action_map[-1][1]

    def __call__(self, action_request: EnrichedActionRequest) -> ActionResponse:
        action: ActionResponse = self.get_uninitialized_action(action_request)(self.settings)(action_request)
        return action
