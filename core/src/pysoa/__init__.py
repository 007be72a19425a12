"""soa-core: fast, plugin-based RPC services and clients (import name kept as ``pysoa``)."""

from __future__ import annotations

from pysoa.version import __version__, __version_info__

__all__ = ["__version__", "__version_info__"]
