"""PySOA's ``pysoa.server.internal.event_loop``: the server's asyncio loop thread and its middleware setting.

``AsyncEventLoopThread`` is soa-core's; it starts on first use and takes no arguments (the server applies the
``coroutine_middleware`` setting itself). ``coroutine_middleware_config`` is that setting's schema.
"""

from __future__ import annotations

from conformity import fields

from pysoa.server._event_loop import AsyncEventLoopThread
from pysoa.server.settings import ServerSettings

__all__ = ["AsyncEventLoopThread", "coroutine_middleware_config"]

coroutine_middleware_config: fields.Base = ServerSettings.schema["coroutine_middleware"]
