"""Django integration for servers with ``use_django = True``.

* :func:`setup_django` (called by :func:`~pysoa.runtime.standalone.django_main` and ``soa serve
  --django``): one logging configuration for Django and the server, then ``django.setup()``.
* Resource hygiene, called by the server around every request and when idle: database connections
  that are broken or older than ``CONN_MAX_AGE`` are closed (so a worker never serves a request on a
  connection the database dropped while it was idle), query logs are reset (``DEBUG = True`` would
  otherwise grow them forever in a long-lived process) and caches are closed after each request.
  Test servers set ``_skip_django_database_cleanup``: the test's transaction must survive requests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from pysoa.errors import ConfigurationError

__all__ = [
    "after_request",
    "before_request",
    "close_caches",
    "close_old_connections",
    "on_idle",
    "on_shutdown",
    "setup_django",
    "sync_logging",
]


class _DjangoServer(Protocol):
    """What the request hooks read of the server that calls them (a :class:`pysoa.server.Server`)."""

    _skip_django_database_cleanup: bool


logger = logging.getLogger("pysoa.server.django")


def sync_logging() -> str | None:
    """Make Django's ``LOGGING`` and ``SOA_SERVER_SETTINGS['logging']`` one configuration (before ``django.setup()``).

    * Only ``SOA_SERVER_SETTINGS['logging']`` is set: Django uses it too.
    * Only Django's ``LOGGING`` is set: the server uses it too.
    * Both, and they differ: the server's wins (it configures logging last anyway); a warning is returned.
    * Neither: both use the server's default logging configuration.

    Returns a warning to log once logging works, or ``None``.
    """
    from django.conf import settings

    from pysoa.server.settings import ServerSettings

    soa_settings = getattr(settings, "SOA_SERVER_SETTINGS", None)
    if not isinstance(soa_settings, dict):
        raise ConfigurationError(
            f"The Django settings module {settings.SETTINGS_MODULE!r} must define SOA_SERVER_SETTINGS as a dict"
        )
    soa_logging: Mapping[str, Any] | None = soa_settings.get("logging")
    django_logging: Mapping[str, Any] | None = getattr(settings, "LOGGING", None) or None
    warning = None
    if soa_logging:
        if django_logging and dict(django_logging) != dict(soa_logging):
            warning = (
                "Django's LOGGING differs from SOA_SERVER_SETTINGS['logging']; using SOA_SERVER_SETTINGS['logging'] "
                "for both (remove one of them to silence this warning)"
            )
        settings.LOGGING = dict(soa_logging)
    elif django_logging:
        soa_settings["logging"] = dict(django_logging)
    else:
        default = dict(ServerSettings.defaults["logging"])
        settings.LOGGING = default
        soa_settings["logging"] = default
    return warning


def setup_django() -> None:
    """Sync the logging configuration (:func:`sync_logging`) and run ``django.setup()``.

    ``DJANGO_SETTINGS_MODULE`` must be set. Configuration problems raise
    :class:`~pysoa.errors.ConfigurationError`.
    """
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        warning = sync_logging()
        django.setup()
    except ImproperlyConfigured as exc:
        raise ConfigurationError(f"Django is not configured: {exc}") from exc
    except ImportError as exc:
        raise ConfigurationError(f"Cannot import the Django settings: {exc}") from exc
    if warning:
        logger.warning(warning)


def close_old_connections() -> None:
    """Close database connections that are unusable or past their ``CONN_MAX_AGE``; never open one.

    Only connections that are open are looked at (as Django's own ``close_old_connections``):
    asking a closed connection anything, even its autocommit mode, would connect to the database
    just to disconnect again. Connections inside a transaction (not in autocommit mode) are left
    alone: closing one would lose the transaction.
    """
    from django.db import DatabaseError, connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is None:
            continue
        try:
            if connection.get_autocommit():
                connection.close_if_unusable_or_obsolete()
        except DatabaseError:
            pass  # closing a connection the database already dropped can fail; nothing is lost by moving on


def close_caches(for_shutdown: bool = False) -> None:
    """Call ``close()`` on every cache used so far (``close(for_shutdown=True)`` at shutdown)."""
    from django.core.cache import caches

    for cache in caches.all(initialized_only=True):
        close: Any = cache.close
        try:
            close(for_shutdown=for_shutdown)
        except TypeError:
            close()  # a backend whose close() takes no arguments


def before_request(server: _DjangoServer) -> None:
    if server._skip_django_database_cleanup:
        return
    from django.db import reset_queries

    reset_queries()
    close_old_connections()


def after_request(server: _DjangoServer) -> None:
    if not server._skip_django_database_cleanup:
        close_old_connections()
    close_caches()


def on_idle(server: _DjangoServer) -> None:
    if not server._skip_django_database_cleanup:
        close_old_connections()


def on_shutdown(server: _DjangoServer) -> None:
    """At shutdown: caches close for good (connection-pooling backends release their sockets)."""
    close_caches(for_shutdown=True)
