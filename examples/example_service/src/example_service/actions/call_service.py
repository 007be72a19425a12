from __future__ import annotations

from typing import Any

from conformity import fields

from pysoa.server.action import Action
from pysoa.server.types import EnrichedActionRequest


class CallServiceAction(Action):
    """Squares a number by calling this service's own ``square`` action through ``request.client``.

    The call carries this request's correlation id and switches, as every chained call does.
    Over Redis it needs a second worker, since this worker is busy running the call.
    """

    request_schema = fields.Dictionary(
        {"number": fields.Any(fields.Integer(), fields.Float())}, optional_keys=("number",)
    )
    response_schema = fields.Dictionary(
        {
            "square": fields.Any(fields.Integer(), fields.Float()),
            "correlation_id": fields.UnicodeString(),
        }
    )

    def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        assert request.client is not None
        response = request.client.call_action("example", "square", {"number": request.body.get("number", 42)})
        return {"square": response.body["square"], "correlation_id": request.context["correlation_id"]}
