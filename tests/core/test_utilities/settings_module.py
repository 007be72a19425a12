"""A ``$PYSOA_SETTINGS_MODULE`` for the server test case tests."""

from __future__ import annotations

SOA_SERVER_SETTINGS = {"extra_fields_to_redact": {"from_settings_module"}}
