"""ZeroMQ transport for soa-core (plugin name ``zmq``)."""
