from __future__ import annotations

__version__ = "0.70.0"
# Sent on the wire as meta.client_version; servers include Error.is_caller_error for clients >= 0.70.0.
__version_info__ = (0, 70, 0)
