"""A ``$PYSOA_SETTINGS_MODULE`` naming its settings ``settings`` (PySOA accepted that too)."""

from __future__ import annotations

settings = {"extra_fields_to_redact": {"from_plain_settings"}}
