"""JSON serializer for soa-core."""
