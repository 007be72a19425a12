"""The soa-core server: ``from pysoa.server import Server`` (also ``BaseServer``).

Names are resolved on first use so that importing ``pysoa.server`` (for example from Django
settings) imports nothing heavy and cannot recurse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pysoa.server.server import HarakiriInterrupt, Server

    BaseServer = Server

__all__ = ["BaseServer", "HarakiriInterrupt", "Server"]


def __getattr__(name: str) -> Any:
    if name in ("Server", "BaseServer", "HarakiriInterrupt"):
        from pysoa.server import server

        return server.Server if name == "BaseServer" else getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
