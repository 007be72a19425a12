"""pytest plugins (registered with the ``pytest11`` entry point)."""

from __future__ import annotations
