"""PySOA's ``pysoa.utils``: small helpers that services imported from it."""

from __future__ import annotations

import sys
from collections.abc import Hashable, Mapping
from typing import Any

__all__ = ["dict_to_hashable", "get_python_interpreter_arguments"]


def _hashable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict_to_hashable(value)
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    return value


def dict_to_hashable(d: Mapping[Any, Any]) -> frozenset[tuple[Hashable, Any]]:
    """An immutable, hashable stand-in for ``d``, usable as a dict key or set member.

    Two dicts with equal contents give equal results and dicts with different contents give different results;
    nested dicts and lists (also inside lists) are converted too. A list and a tuple of the same items count as the
    same, as in PySOA. Values that are neither dicts nor lists must be hashable already.
    """
    return frozenset((key, _hashable(value)) for key, value in d.items())


def get_python_interpreter_arguments() -> list[str]:
    """The command line up to the program: the interpreter, its options and the script, ``-m module`` or ``-c code``.

    For ``python -W error -m service.standalone -f 2`` this is ``["python", "-W", "error", "-m",
    "service.standalone"]``: what re-runs the same program when followed by ``sys.argv[1:]``.
    """
    return list(sys.orig_argv[: len(sys.orig_argv) - len(sys.argv) + 1])
