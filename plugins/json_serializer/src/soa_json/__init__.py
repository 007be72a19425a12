"""JSON serializer for soa-core (plugin name ``json``, MIME type ``application/json``)."""

from __future__ import annotations

from soa_json.serializer import JSONSerializer

__all__ = ["JSONSerializer"]
