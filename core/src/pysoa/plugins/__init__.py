"""soa-core's plugin system (pluggy).

Plugin authors need :data:`hookimpl` and the hooks in :mod:`pysoa.plugins.hookspecs` (see
docs/plugins.md). Everything else here is for code that looks plugins up by name.
Importing this package loads no plugin: entry points are loaded on the first lookup.
"""

from __future__ import annotations

from pysoa.plugins._markers import hookimpl
from pysoa.plugins.manager import (
    BLOCK_ENV_VAR,
    ENTRY_POINT_GROUP,
    KINDS,
    PluginInfo,
    PluginManager,
    PluginPair,
    get_plugin_manager,
    set_plugin_manager,
)
from pysoa.plugins.reference import PluginReference

__all__ = [
    "BLOCK_ENV_VAR",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "PluginInfo",
    "PluginManager",
    "PluginPair",
    "PluginReference",
    "get_plugin_manager",
    "hookimpl",
    "set_plugin_manager",
]
