"""Django settings of the test project.

``DJANGO_PROJECT_DB``: the SQLite file (the tests give each run its own). ``RUNTIME_SPOOL`` and
``RUNTIME_HEARTBEAT``: as for :mod:`tests.runtime.settings`, for worker processes.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["tests.django_project.notes"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_PROJECT_DB")
        or os.path.join(tempfile.gettempdir(), "soa-django-project.sqlite3"),
        # A new connection per request, as most services run: the server must close it after each one.
        "CONN_MAX_AGE": 0,
    }
}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
    "request": {"BACKEND": "pysoa.server.django.cache.PySOARequestScopedMemoryCache", "LOCATION": "request"},
    "process": {"BACKEND": "pysoa.server.django.cache.PySOAProcessScopedMemoryCache", "LOCATION": "process"},
}

# Only Django's LOGGING is set: the server takes it over (SOA_SERVER_SETTINGS has no 'logging').
LOGGING: dict[str, Any] = {
    "version": 1,
    "formatters": {"marked": {"format": "DJANGO-LOGGING %(levelname)s %(process)d %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "marked"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {"pysoa.server.job": {"level": "WARNING"}},
    "disable_existing_loggers": False,
}

SOA_SERVER_SETTINGS: dict[str, Any] = {
    "transport": {
        "path": "tests.runtime.spool:SharedSpoolServerTransport",
        "kwargs": {"spool": os.environ.get("RUNTIME_SPOOL", "")},
    },
    "heartbeat_file": os.environ.get("RUNTIME_HEARTBEAT") or None,
    "harakiri": {"timeout": 0, "shutdown_grace": 2},
}
