"""``mock`` for code written for PySOA, which imported it from here (PySOA chose between the backport and
:mod:`unittest.mock`; soa-core needs only the standard library)."""

from __future__ import annotations

from unittest import mock

__all__ = ["mock"]
