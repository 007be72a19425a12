"""The process runtime: everything that runs a server as a process, above the server itself.

``standalone`` (a service's entry points and options), the supervisor of forked workers, the
lifeline that stops orphaned children, the file-watching reloader, and ``soa serve``. PySOA's
paths :mod:`pysoa.server.standalone` and :mod:`pysoa.server.autoreload` serve the public parts.
"""
