"""The built-in ``introspect`` action: documentation and schemas of every action."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Protocol, TypeGuard

from conformity import fields

from pysoa.common.switches import get_switch
from pysoa.common.types import Error
from pysoa.errors import ActionError
from pysoa.server.action.base import Action
from pysoa.server.action.switched import SwitchedAction
from pysoa.server.types import EnrichedActionRequest

__all__ = ["SWITCHED_ACTION_RE", "IntrospectableServer", "IntrospectionAction"]


class IntrospectableServer(Protocol):
    """What introspection needs of the server (a :class:`pysoa.server.Server`), which builds this action."""

    @property
    def settings(self) -> Any: ...

    def all_action_classes(self) -> Mapping[str, Any]: ...


SWITCHED_ACTION_RE: Final = re.compile(
    r"^(?P<action>[\w-]+)\[(?:switch:(?P<switch>\d+)|(?P<default>DEFAULT))\]$", re.ASCII
)
"""Matches the keys under which a switched action's variants are introspected: ``name[switch:5]``, ``name[DEFAULT]``.

Groups: ``action``, and ``switch`` (the number) or ``default``.
"""


def _documentation(obj: Any) -> str | None:
    doc = getattr(obj, "description", None) or getattr(obj, "__doc__", None)
    return doc.strip() if isinstance(doc, str) and doc.strip() else None


def _describe_action(action_class: Any) -> dict[str, Any]:
    request_schema = getattr(action_class, "request_schema", None)
    response_schema = getattr(action_class, "response_schema", None)
    return {
        "documentation": _documentation(action_class),
        "request_schema": request_schema.introspect() if request_schema is not None else None,
        "response_schema": response_schema.introspect() if response_schema is not None else None,
    }


class IntrospectionAction(Action):
    """Describes this service: its documentation and every action's documentation and schemas."""

    description = (
        "Returns documentation for this service and its actions, with their request and response schemas. "
        "Give action_name to describe one action."
    )
    request_schema = fields.Dictionary(
        {"action_name": fields.UnicodeString(min_length=1, allow_blank=False, description="One action to describe")},
        optional_keys=("action_name",),
    )
    response_schema = fields.Dictionary(
        {
            "documentation": fields.Nullable(fields.UnicodeString()),
            "action_names": fields.List(fields.UnicodeString()),
            "actions": fields.SchemalessDictionary(
                key_type=fields.UnicodeString(), value_type=fields.SchemalessDictionary()
            ),
        },
        optional_keys=("documentation",),
    )

    def __init__(self, server: IntrospectableServer) -> None:
        super().__init__(server.settings)
        self.server = server

    def _all_actions(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every action's descriptions by name; a switched action has one per variant
        (``name[switch:N]``, and ``name[DEFAULT]`` for the one that runs when no switch matches)."""
        described: dict[str, dict[str, dict[str, Any]]] = {}
        for name, action_class in self.server.all_action_classes().items():
            if _is_switched(action_class):
                described[name] = {
                    _variant_key(name, switch, is_default): _describe_action(sub_action)
                    for switch, sub_action, is_default in _variants(action_class)
                }
            else:
                described[name] = {name: _describe_action(action_class)}
        return described

    def _one_action(self, wanted: str, described: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """The descriptions ``action_name`` asks for: an action, all variants of a switched action
        (by its bare name), or one variant (``name[DEFAULT]``, or ``name[switch:N]`` for the variant
        that runs when switch N is the request's only switch, the implicit default's included)."""
        if wanted in described:
            return described[wanted]
        for variants in described.values():
            if wanted in variants:
                return {wanted: variants[wanted]}
        match = _SWITCH_KEY.fullmatch(wanted)
        if match is not None:
            action_class = self.server.all_action_classes().get(match["name"])
            if _is_switched(action_class):
                number = int(match["switch"])
                chosen = None
                for switch, sub_action, is_default in _variants(action_class):
                    if not is_default and get_switch(switch) == number:
                        chosen = sub_action
                        break
                    if is_default and chosen is None:
                        chosen = sub_action
                return {wanted: _describe_action(chosen)}
        raise ActionError([Error(code="INVALID", message="Action not defined in service", field="action_name")])

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        described = self._all_actions()
        wanted = request.body.get("action_name")
        if wanted is not None:
            actions = self._one_action(wanted, described)
            return {"action_names": sorted(actions), "actions": actions}
        actions = {key: description for variants in described.values() for key, description in variants.items()}
        return {
            "documentation": _documentation(self.server),
            "action_names": sorted(actions),
            "actions": actions,
        }


_SWITCH_KEY = re.compile(r"(?P<name>.+)\[switch:(?P<switch>-?\d+)\]")


def _is_switched(action_class: Any) -> TypeGuard[type[SwitchedAction]]:
    return isinstance(action_class, type) and issubclass(action_class, SwitchedAction)


def _variants(action_class: type[SwitchedAction]) -> list[tuple[Any, Any, bool]]:
    """``(switch, action, is_default)`` for each pair; the default is the ``DEFAULT_ACTION`` pair,
    or the last pair when there is none (the one :class:`SwitchedAction` runs when no switch matches)."""
    pairs = list(action_class.switch_to_action_map)
    has_default = any(switch is SwitchedAction.DEFAULT_ACTION for switch, _ in pairs)
    return [
        (switch, action, switch is SwitchedAction.DEFAULT_ACTION or (not has_default and i == len(pairs) - 1))
        for i, (switch, action) in enumerate(pairs)
    ]


def _variant_key(name: str, switch: Any, is_default: bool) -> str:
    return f"{name}[DEFAULT]" if is_default else f"{name}[switch:{get_switch(switch)}]"
