"""PySOA's test factories: ``ActionFactory``, ``ServerSettingsFactory`` and ``ServerFactory``.

``ActionFactory(body=None, exception=None)`` makes an :class:`~pysoa.server.action.Action` class
whose ``run`` returns ``body`` (``{}`` by default) or raises ``exception``: handy in a test's
``action_class_map``.

``ServerSettingsFactory`` and ``ServerFactory`` are `factory_boy <https://factoryboy.readthedocs.io/>`_
factories, as in PySOA, so that suites subclassing them keep working:

.. code-block:: python

    class MyServerFactory(ServerFactory):
        class Meta:
            model = MyServer

    server = MyServerFactory(settings__data={'middleware': []})

Their settings always use the local server transport. They need factory_boy, which comes with
soa-core's ``testing`` extra (``pip install 'soa-core[testing]'``); ``ActionFactory`` does not.
"""

from __future__ import annotations

import importlib
from typing import Any

from pysoa.server.action import Action
from pysoa.server.types import EnrichedActionRequest

__all__ = ["ActionFactory", "ServerFactory", "ServerSettingsFactory"]  # noqa: F822  (two served by __getattr__)

_NEED_FACTORY_BOY = frozenset({"ServerFactory", "ServerSettingsFactory"})


def ActionFactory(  # PySOA's name: it reads as a class in action_class_map
    body: dict[str, Any] | None = None,
    exception: BaseException | None = None,
) -> type[Action]:
    """An :class:`Action` class whose ``run`` raises ``exception`` if given, else returns ``body`` (or ``{}``)."""

    class TestAction(Action):
        def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
            if exception is not None:
                raise exception
            return dict(body or {})

    return TestAction


def __getattr__(name: str) -> Any:
    if name in _NEED_FACTORY_BOY:
        try:
            factory_boy_module = importlib.import_module("pysoa.test._factory_boy")
        except ImportError as exc:
            raise ImportError(
                f"pysoa.test.factories.{name} is a factory_boy factory; install it with "
                f"pip install 'soa-core[testing]' ({exc})"
            ) from exc
        return getattr(factory_boy_module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
