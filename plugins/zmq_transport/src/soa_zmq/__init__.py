"""ZeroMQ transport for soa-core (plugin name ``zmq``).

:mod:`soa_zmq.transport` has the transport classes, :mod:`soa_zmq.router` the router (its class,
``spawn_router``/``stop_router``, and the ``soa-zmq-router`` command). See the README.
"""
