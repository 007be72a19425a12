"""PySOA's ``pysoa.server.standalone``: a service's entry points, served by :mod:`pysoa.runtime.standalone`.

A service's ``standalone.py``::

    from pysoa.server.standalone import simple_main

    def main():
        from my_service.server import Server
        simple_main(lambda: Server)
"""

from __future__ import annotations

from pysoa.runtime.standalone import (
    EXIT_CONFIGURATION_ERROR,
    EXIT_STARTED_AS_SCRIPT,
    RunOptions,
    check_not_started_as_script,
    django_main,
    load_server_settings,
    parse_options,
    run_service,
    simple_main,
)

__all__ = [
    "EXIT_CONFIGURATION_ERROR",
    "EXIT_STARTED_AS_SCRIPT",
    "RunOptions",
    "check_not_started_as_script",
    "django_main",
    "load_server_settings",
    "parse_options",
    "run_service",
    "simple_main",
]
