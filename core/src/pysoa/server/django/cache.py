"""Cache backends whose lifetime suits a long-lived worker process (PySOA's ``pysoa.server.django.cache``).

A server with ``use_django`` closes every cache after each request and again, with
``for_shutdown=True``, when it stops. Django's own backends take ``close()`` as "the request is over",
which is wrong for some uses in a worker; these say what they mean::

    CACHES = {
        "request": {"BACKEND": "pysoa.server.django.cache.PySOARequestScopedMemoryCache"},
        "process": {"BACKEND": "pysoa.server.django.cache.PySOAProcessScopedMemoryCache"},
        "shared": {"BACKEND": "pysoa.server.django.cache.PySOAPyMemcacheCache", "LOCATION": "127.0.0.1:11211"},
    }
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.memcached import PyLibMCCache, PyMemcacheCache

__all__ = [
    "PySOAMemcachedCache",
    "PySOAProcessScopedMemoryCache",
    "PySOAPyLibMCCache",
    "PySOAPyMemcacheCache",
    "PySOARequestScopedMemoryCache",
]


class PySOARequestScopedMemoryCache(LocMemCache):  # type: ignore[misc]  # Django ships no type hints
    """An in-memory cache emptied after every request: memoisation that can never serve stale data."""

    def close(self, **kwargs: Any) -> None:
        self.clear()


class PySOAProcessScopedMemoryCache(LocMemCache):  # type: ignore[misc]  # Django ships no type hints
    """An in-memory cache that lives as long as the worker process: closing it does nothing."""

    def close(self, **kwargs: Any) -> None:
        return


class PySOAPyMemcacheCache(PyMemcacheCache):  # type: ignore[misc]  # Django ships no type hints
    """Memcached (pymemcache) keeping its connections across requests; they close only at shutdown."""

    def close(self, for_shutdown: bool = False, **kwargs: Any) -> None:
        if for_shutdown:
            super().close(**kwargs)


class PySOAPyLibMCCache(PyLibMCCache):  # type: ignore[misc]  # Django ships no type hints
    """Memcached (pylibmc) keeping its connections across requests; they close only at shutdown."""

    def close(self, for_shutdown: bool = False, **kwargs: Any) -> None:
        if for_shutdown:
            super().close(**kwargs)


# PySOA's name: it wrapped Django's MemcachedCache (python-memcached), which Django 4.1 removed.
PySOAMemcachedCache = PySOAPyMemcacheCache
