"""PySOA's ``pysoa.server.internal`` package: paths kept so code written for PySOA imports unchanged."""

from __future__ import annotations
