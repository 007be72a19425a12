"""The soa-core client."""
