"""PySOA's ``pysoa.common.transport.redis_gateway`` paths, served by the soa-redis plugin."""
