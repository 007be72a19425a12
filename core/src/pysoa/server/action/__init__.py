"""Actions: the :class:`Action` base class and the built-in ``status`` and ``introspect`` actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pysoa.server.action.base import Action

__all__ = ["Action", "action_function"]

_F = TypeVar("_F", bound=Callable[..., Any])


def action_function(function: _F) -> _F:
    """Mark a function ``f(request) -> body dict`` as an action for ``action_class_map``.

    Without the mark, a function in ``action_class_map`` is an action when its first parameter is
    named ``request`` or ``action_request``; otherwise it is a factory called with the settings
    (PySOA's contract).
    """
    function.__soa_action_function__ = True  # type: ignore[attr-defined]
    return function
