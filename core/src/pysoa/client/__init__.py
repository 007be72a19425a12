"""The soa-core client: ``from pysoa.client import Client``."""

from __future__ import annotations

from pysoa.client.client import Client, FutureSOAResponse, ServiceHandler

__all__ = ["Client", "FutureSOAResponse", "ServiceHandler"]
