"""The example service: ``square``, ``status`` and ``call_service``."""

from __future__ import annotations

from example_service.actions.call_service import CallServiceAction
from example_service.actions.square import SquareAction
from example_service.actions.status import StatusAction
from pysoa.server import Server as BaseServer


class Server(BaseServer):
    """An example service that squares numbers."""

    service_name = "example"
    action_class_map = {
        "square": SquareAction,
        "status": StatusAction,
        "call_service": CallServiceAction,
    }
