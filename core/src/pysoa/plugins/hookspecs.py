"""The hooks a soa-core plugin can implement. These docstrings are the plugin author's reference.

A plugin is a module (or object) with functions named after these hooks and marked with
:data:`pysoa.plugins.hookimpl`. A distribution makes it discoverable with one entry point in the
``pysoa`` group naming that module::

    # pyproject.toml of soa-mytransport
    [project.entry-points.pysoa]
    mytransport = "soa_mytransport.hooks"

    # soa_mytransport/hooks.py
    from pysoa.plugins import hookimpl
    from soa_mytransport.transport import MyClientTransport, MyServerTransport

    @hookimpl
    def pysoa_register_transports():
        return [MyClientTransport, MyServerTransport]

Users then select it in settings by name: ``'transport': 'mytransport'`` or
``{'name': 'mytransport', 'kwargs': {...}}``; kwargs are validated against the class's
``settings_schema`` (a Conformity field) when the client or server is built.

Every registration hook is called once, the first time the plugin manager is asked for a plugin
(never at import time). Each returns a sequence of classes; each class carries a non-empty ``name``
class attribute. Two different classes of one kind claiming one name are refused at start-up with
an error naming both. A function whose name starts with ``pysoa_`` but matches no hook below is an
error at start-up too, so a misspelled hook never silently does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pysoa.client.middleware import ClientMiddleware
    from pysoa.common.serializer.base import Serializer
    from pysoa.common.transport.base import ClientTransport, ServerTransport
    from pysoa.server.middleware import ServerMiddleware

PROJECT_NAME = "pysoa"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = [
    "pysoa_register_middleware",
    "pysoa_register_serializers",
    "pysoa_register_transports",
]


@hookspec
def pysoa_register_transports() -> Sequence[type[ClientTransport] | type[ServerTransport]]:
    """Return the transport classes this plugin provides.

    Return subclasses of :class:`pysoa.common.transport.base.ClientTransport` and/or
    :class:`pysoa.common.transport.base.ServerTransport`. A client class and a server class that
    share one ``name`` form one transport: ``'transport': 'name'`` picks the client class in client
    settings and the server class in server settings. A transport may provide only one side.

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
    message with that content type decodes it with this class).

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
    :class:`pysoa.server.middleware.ServerMiddleware`. Users list them in the ``middleware``
    setting by name (``'middleware': ['timing', {'name': 'auth', 'kwargs': {...}}]``), outermost
    first. Each is built once per client service handler or per server, as ``cls(**kwargs)``.

    Example::

        @hookimpl
        def pysoa_register_middleware():
            return [TimingClientMiddleware, TimingServerMiddleware]
    """
    raise NotImplementedError
