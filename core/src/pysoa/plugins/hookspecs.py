"""The hooks a soa-core plugin can implement. These docstrings are the plugin author's reference.

A plugin is a module (or object) with functions named after these hooks and marked with
:data:`pysoa.plugins.hookimpl`. A distribution makes it discoverable with one entry point in the
``pysoa`` group naming that module::

    # pyproject.toml of soa-mytransport
    [project.entry-points.pysoa]
    mytransport = "soa_mytransport.hooks"

    # soa_mytransport/hooks.py
    from pysoa.plugins import hookimpl

    @hookimpl
    def pysoa_register_transports():
        from soa_mytransport.transport import MyClientTransport, MyServerTransport

        return [MyClientTransport, MyServerTransport]

Users then select it in settings by name: ``'transport': 'mytransport'`` or
``{'name': 'mytransport', 'kwargs': {...}}``; kwargs are validated against the class's
``settings_schema`` (a Conformity field) when the client or server is built.

When hooks are called: nothing happens at import time. The first time the plugin manager is
asked for a plugin (normally while a client's or server's settings are validated, or by
``soa plugins``), it imports every entry point of the ``pysoa`` group that is not blocked by
``PYSOA_DISABLE_PLUGINS``, then calls every registration hook of every plugin once and remembers
the classes. Import heavy dependencies inside the hook function (or later), not at the top of
the hooks module, so that merely being installed costs an application nothing.

Each hook takes no arguments and returns a sequence of classes; each class carries a non-empty
``name`` class attribute. Two different classes of one kind claiming one name are refused with
an error naming both. A function whose name starts with ``pysoa_`` but matches no hook below is an
error too (also when it lacks the ``@hookimpl`` marker), so a misspelled hook never silently does
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pysoa.plugins._markers import PROJECT_NAME, hookspec

if TYPE_CHECKING:
    from pysoa.common.middleware.client import ClientMiddleware
    from pysoa.common.middleware.server import ServerMiddleware
    from pysoa.common.serializer.base import Serializer
    from pysoa.common.transport.base import Transport

__all__ = [
    "PROJECT_NAME",
    "pysoa_register_middleware",
    "pysoa_register_serializers",
    "pysoa_register_transports",
]


@hookspec
def pysoa_register_transports() -> Sequence[type[Transport]]:
    """Return the transport classes this plugin provides.

    Return subclasses of :class:`pysoa.common.transport.base.ClientTransport` and/or
    :class:`pysoa.common.transport.base.ServerTransport`, and for asyncio
    :class:`pysoa.common.transport.async_base.AsyncClientTransport` and/or
    :class:`~pysoa.common.transport.async_base.AsyncServerTransport`. Classes that share one
    ``name`` form one transport: ``'transport': 'name'`` picks the client class in client settings,
    the server class in server settings, and the async classes for an ``AsyncClient`` or a worker
    that runs jobs concurrently. A transport may provide any subset of the four.

    The client class is built as ``cls(service_name, metrics, **kwargs)``, the server class as
    ``cls(service_name, metrics, instance_index, **kwargs)``; ``kwargs`` come from settings and were
    validated against the class's ``settings_schema``.

    Example::

        @hookimpl
        def pysoa_register_transports():
            return [RedisClientTransport, RedisServerTransport]
    """
    raise NotImplementedError


@hookspec
def pysoa_register_serializers() -> Sequence[type[Serializer]]:
    """Return the serializer classes this plugin provides.

    Return subclasses of :class:`pysoa.common.serializer.base.Serializer`, each with a unique
    ``name`` (used in settings, e.g. ``'default_serializer_config': 'json'``) and a unique
    ``mime_type`` (carried on the wire, e.g. ``application/json``; a transport that receives a
    message with that content type decodes it with this class). Serializers are built as
    ``cls(**kwargs)``.

    Example::

        @hookimpl
        def pysoa_register_serializers():
            return [JSONSerializer]
    """
    raise NotImplementedError


@hookspec
def pysoa_register_middleware() -> Sequence[type[ClientMiddleware] | type[ServerMiddleware]]:
    """Return the middleware classes this plugin provides.

    Return subclasses of :class:`pysoa.client.middleware.ClientMiddleware` and/or
    :class:`pysoa.server.middleware.ServerMiddleware` (whose ``async_job``/``async_action`` wrap
    async jobs and actions), and for ``AsyncClient``
    :class:`pysoa.client.async_middleware.AsyncClientMiddleware`; classes of different kinds may
    share one ``name``. Users list them in the ``middleware`` setting by name
    (``'middleware': ['timing', {'name': 'auth', 'kwargs': {...}}]``), outermost first. Each is
    built once per client service handler or per server, as ``cls(**kwargs)``.

    Example::

        @hookimpl
        def pysoa_register_middleware():
            return [TimingClientMiddleware, TimingServerMiddleware]
    """
    raise NotImplementedError
