"""PySOA's ``pysoa.server.errors`` names for the server part of :mod:`pysoa.errors`."""

from __future__ import annotations

from pysoa.errors import ActionError, JobError, ResponseValidationError
from pysoa.errors import ServerError as PySOAServerError

__all__ = ["ActionError", "JobError", "PySOAServerError", "ResponseValidationError"]
