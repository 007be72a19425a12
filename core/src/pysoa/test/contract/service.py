"""The service the contract suite calls: small actions that exercise every part of a round trip."""

from __future__ import annotations

from typing import Any

from conformity import fields

from pysoa.common.types import Error
from pysoa.errors import ActionError, JobError
from pysoa.server.action import Action
from pysoa.server.server import Server
from pysoa.server.types import EnrichedActionRequest

__all__ = ["ContractServer"]


class _Square(Action):
    request_schema = fields.Dictionary({"number": fields.Integer()})
    response_schema = fields.Dictionary({"square": fields.Integer()})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        return {"square": request.body["number"] ** 2}


class _Fail(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ActionError([Error(code="NOT_AUTHORIZED", message="No way", field="who")])


class _JobFail(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise JobError([Error(code="ACCESS_DENIED", message="Go away")])


class _Crash(Action):
    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        raise ZeroDivisionError("boom")


def _echo(request: EnrichedActionRequest) -> dict[str, Any]:
    return dict(request.body)


def _context(request: EnrichedActionRequest) -> dict[str, Any]:
    return {"context": dict(request.context), "switches": sorted(request.switches)}


class ContractServer(Server):
    """Service ``contract``: ``square``, ``fail`` (an action error), ``job_fail`` (a job error),
    ``crash`` (an unexpected exception), ``echo`` (returns its body) and ``context`` (returns the
    request's context and switches), besides the built-in ``status`` and ``introspect``."""

    service_name = "contract"
    action_class_map = {
        "square": _Square,
        "fail": _Fail,
        "job_fail": _JobFail,
        "crash": _Crash,
        "echo": _echo,
        "context": _context,
    }
