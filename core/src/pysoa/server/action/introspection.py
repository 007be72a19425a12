"""The built-in ``introspect`` action: documentation and schemas of every action."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from conformity import fields

from pysoa.common.types import Error
from pysoa.errors import ActionError
from pysoa.server.action.base import Action
from pysoa.server.action.switched import SwitchedAction
from pysoa.server.types import EnrichedActionRequest

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ["SWITCHED_ACTION_RE", "IntrospectionAction"]

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

    def __init__(self, server: Server) -> None:
        super().__init__(server.settings)
        self.server = server

    def _all_actions(self) -> dict[str, dict[str, Any]]:
        described: dict[str, dict[str, Any]] = {}
        for name, action_class in self.server.all_action_classes().items():
            if isinstance(action_class, type) and issubclass(action_class, SwitchedAction):
                pairs = list(action_class.switch_to_action_map)
                has_default = any(switch is SwitchedAction.DEFAULT_ACTION for switch, _ in pairs)
                for i, (switch, sub_action) in enumerate(pairs):
                    is_default = switch is SwitchedAction.DEFAULT_ACTION or (not has_default and i == len(pairs) - 1)
                    key = f"{name}[DEFAULT]" if is_default else f"{name}[switch:{int(switch)}]"
                    described[key] = _describe_action(sub_action)
            else:
                described[name] = _describe_action(action_class)
        return described

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        actions = self._all_actions()
        wanted = request.body.get("action_name")
        if wanted is not None:
            if wanted not in actions:
                raise ActionError([Error(code="INVALID", message="Action not defined in service", field="action_name")])
            return {"action_names": [wanted], "actions": {wanted: actions[wanted]}}
        return {
            "documentation": _documentation(self.server),
            "action_names": sorted(actions),
            "actions": actions,
        }
