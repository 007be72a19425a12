"""soa-core's plugin system (pluggy). See :mod:`pysoa.plugins.hookspecs` for the hooks."""

from __future__ import annotations

import pluggy

from pysoa.plugins.hookspecs import PROJECT_NAME

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

from pysoa.plugins.manager import (  # noqa: E402  (hookimpl must exist before plugins import it)
    BLOCK_ENV_VAR,
    ENTRY_POINT_GROUP,
    PluginInfo,
    PluginManager,
    get_plugin_manager,
    set_plugin_manager,
)

__all__ = [
    "BLOCK_ENV_VAR",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginManager",
    "get_plugin_manager",
    "hookimpl",
    "set_plugin_manager",
]
