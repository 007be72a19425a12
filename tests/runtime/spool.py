"""The file-spool transport the runtime tests share with the server-loop tests."""

from __future__ import annotations

from tests.core.server.spool_transport import SpoolServerTransport, read_response, write_request

# Several workers may share one spool: the transport claims each request by renaming it.
SharedSpoolServerTransport = SpoolServerTransport

__all__ = ["SharedSpoolServerTransport", "read_response", "write_request"]
