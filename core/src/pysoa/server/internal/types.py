"""PySOA's ``pysoa.server.internal.types``: switch helpers, served by :mod:`pysoa.server.types`.

``SwitchSet`` is :class:`~pysoa.common.switches.RequestSwitchSet` (PySOA's ``RequestSwitchSet`` only added
``is_active`` to it), so a request's switches are instances of both.
"""

from __future__ import annotations

from typing import Protocol, SupportsInt, runtime_checkable

from pysoa.common.switches import RequestSwitchSet, get_switch, is_switch

__all__ = ["RequestSwitchSet", "SupportsIntValue", "SwitchSet", "get_switch", "is_switch"]

SwitchSet = RequestSwitchSet


@runtime_checkable
class SupportsIntValue(Protocol):
    """A switch object whose ``value`` is the switch number (an enum member, say)."""

    value: SupportsInt
