"""The soa-core server."""
