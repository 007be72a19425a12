"""The example service: ``square``, ``status``, ``call_service`` and the async ``sum_of_squares``."""

from __future__ import annotations

from example_service.actions.call_service import CallServiceAction
from example_service.actions.square import SquareAction
from example_service.actions.status import StatusAction
from example_service.actions.sum_of_squares import SumOfSquaresAction
from pysoa.server import Server as BaseServer


class Server(BaseServer):
    """An example service that squares numbers."""

    service_name = "example"
    action_class_map = {
        "square": SquareAction,
        "status": StatusAction,
        "call_service": CallServiceAction,
        "sum_of_squares": SumOfSquaresAction,
    }
