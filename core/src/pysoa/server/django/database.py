"""PySOA's ``pysoa.server.django.database``: the database hygiene a server with ``use_django`` does per request.

For Django middleware and code written for PySOA that calls the same steps itself. Both functions do nothing when
Django is not installed or no database is configured, as in PySOA, so shared middleware works in any service.
"""

from __future__ import annotations

import importlib.util

__all__ = ["django_close_old_database_connections", "django_reset_database_queries"]


def _has_databases() -> bool:
    if importlib.util.find_spec("django") is None:
        return False
    from django.conf import settings

    return bool(settings.DATABASES)


def django_close_old_database_connections() -> None:
    """Close the open database connections that are unusable or past their ``CONN_MAX_AGE``.

    A closed connection is never opened to be checked, and a connection inside a transaction is left alone (see
    :func:`pysoa.server.django_support.close_old_connections`).
    """
    if _has_databases():
        from pysoa.server.django_support import close_old_connections

        close_old_connections()


def django_reset_database_queries() -> None:
    """Empty Django's log of executed queries (with ``DEBUG = True`` it would otherwise grow for the process's life)."""
    if _has_databases():
        from django.db import reset_queries

        reset_queries()
