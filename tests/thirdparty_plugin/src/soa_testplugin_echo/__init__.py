"""A test-only soa-core plugin (see the distribution's README)."""

from __future__ import annotations

__all__: list[str] = []
