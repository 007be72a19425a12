"""In-process transport for soa-core."""
