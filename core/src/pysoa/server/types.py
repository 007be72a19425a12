"""What an action receives and what the server expects of an action (PySOA's ``pysoa.server.types``).

The enriched requests are contracts shared with server middleware, so they live in
:mod:`pysoa.common.enriched_requests`; this module serves them, and the switch helpers, under PySOA's path.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from pysoa.common.enriched_requests import EnrichedActionRequest, EnrichedJobRequest
from pysoa.common.switches import RequestSwitchSet, get_switch, is_switch
from pysoa.common.types import ActionResponse

if TYPE_CHECKING:
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
