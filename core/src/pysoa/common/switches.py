"""Switches: integers a caller sends with a job to turn behaviour on (``SwitchedAction`` picks by them).

The client puts them in the job's context and the server hands them to actions as a
:class:`RequestSwitchSet`, so both sides share these helpers. A switch is an ``int``, anything with
``__int__``, or anything whose ``.value`` has ``__int__`` (an enum member, say).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["RequestSwitchSet", "get_switch", "is_switch"]


def is_switch(value: Any) -> bool:
    """A switch is an int, anything with ``__int__``, or anything whose ``.value`` has ``__int__``."""
    return hasattr(value, "__int__") or hasattr(getattr(value, "value", None), "__int__")


def get_switch(value: Any) -> int:
    """The switch number of ``value``; raises :class:`ValueError` when it is not a switch."""
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
        if type(switches) is list:
            # The server builds one per job from the wire's list, which holds plain ints: skip the conversions.
            for switch in switches:
                if type(switch) is not int:
                    break
            else:
                return super().__new__(cls, switches)
        return super().__new__(cls, (get_switch(s) for s in switches))

    def is_active(self, switch: Any) -> bool:
        return frozenset.__contains__(self, get_switch(switch))

    def __contains__(self, switch: object) -> bool:
        return self.is_active(switch)
