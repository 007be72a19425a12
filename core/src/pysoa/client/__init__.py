"""The soa-core client: ``from pysoa.client import Client`` (or ``AsyncClient`` for asyncio code)."""

from __future__ import annotations

from pysoa.client.async_client import AsyncClient
from pysoa.client.client import Client, FutureSOAResponse, ServiceHandler

__all__ = ["AsyncClient", "Client", "FutureSOAResponse", "ServiceHandler"]
