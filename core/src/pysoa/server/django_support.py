"""Django resource hygiene around requests (used when ``Server.use_django`` is true)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ["after_request", "before_request", "close_caches", "close_old_connections", "on_idle"]


def close_old_connections() -> None:
    """Close database connections that are unusable or past their ``CONN_MAX_AGE``."""
    from django.db import DatabaseError, connections

    for connection in connections.all(initialized_only=True):
        try:
            if connection.get_autocommit():
                connection.close_if_unusable_or_obsolete()
        except DatabaseError:
            pass


def close_caches(for_shutdown: bool = False) -> None:
    from django.core.cache import caches

    for cache in caches.all(initialized_only=True):
        close: Any = cache.close
        try:
            close(for_shutdown=for_shutdown)
        except TypeError:
            close()


def before_request(server: Server) -> None:
    if server._skip_django_database_cleanup:
        return
    from django.db import reset_queries

    reset_queries()
    close_old_connections()


def after_request(server: Server) -> None:
    if not server._skip_django_database_cleanup:
        close_old_connections()
    close_caches()


def on_idle(server: Server) -> None:
    if not server._skip_django_database_cleanup:
        close_old_connections()
