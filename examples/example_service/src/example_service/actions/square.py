from __future__ import annotations

from typing import Any

from conformity import fields

from pysoa.server.action import Action
from pysoa.server.types import EnrichedActionRequest


class SquareAction(Action):
    """Squares a number."""

    request_schema = fields.Dictionary({"number": fields.Any(fields.Integer(), fields.Float())})
    response_schema = fields.Dictionary({"square": fields.Any(fields.Integer(), fields.Float())})

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        number = request.body["number"]
        return {"square": number * number}
