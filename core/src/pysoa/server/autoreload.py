"""PySOA's ``pysoa.server.autoreload``: ``get_reloader(...).main(func)``, served by :mod:`pysoa.runtime.autoreload`."""

from __future__ import annotations

from pysoa.runtime.autoreload import Reloader, get_reloader

__all__ = ["Reloader", "get_reloader"]
