"""Plugins for test runners."""

from __future__ import annotations
