"""The factory_boy factories of :mod:`pysoa.test.factories` (imported only when asked for)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from factory.base import Factory
from factory.declarations import Dict, SubFactory

from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings

__all__ = ["ServerFactory", "ServerSettingsFactory"]

# PySOA's path for the local server transport (served by soa-local).
LOCAL_SERVER_TRANSPORT = "pysoa.common.transport.local:LocalServerTransport"


class ServerSettingsFactory(Factory[ServerSettings]):
    """:class:`ServerSettings` built from ``data``, whose transport is always the local one."""

    class Meta:
        model = ServerSettings

    data = Dict({})  # type: ignore[no-untyped-call]  # factory_boy's declarations are untyped

    @classmethod
    def _adjust_kwargs(cls, **kwargs: Any) -> dict[str, Any]:
        # factory_boy's hook just before the model is built: a test server never uses a real transport.
        kwargs["data"] = {**kwargs["data"], "transport": {"path": LOCAL_SERVER_TRANSPORT}}
        return kwargs

    @classmethod
    def from_module(cls, module_path: str) -> ServerSettings:
        """Settings from the module ``module_path``: its ``settings`` dict (PySOA's name) or ``SOA_SERVER_SETTINGS``."""
        module = importlib.import_module(module_path)
        data = getattr(module, "settings", None)
        if data is None:
            data = getattr(module, "SOA_SERVER_SETTINGS", None)
        if not isinstance(data, Mapping):
            raise AttributeError(f"Module {module_path!r} has no settings or SOA_SERVER_SETTINGS dict")
        return cls.build(data=dict(data))


class ServerFactory(Factory[Server]):
    """A :class:`Server` (subclass: set ``Meta.model``) with :class:`ServerSettingsFactory` settings."""

    class Meta:
        model = Server

    settings = SubFactory(ServerSettingsFactory)  # type: ignore[no-untyped-call]  # as above
