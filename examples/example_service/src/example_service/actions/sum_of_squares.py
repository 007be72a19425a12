from __future__ import annotations

import asyncio
from typing import Any

from conformity import fields

from pysoa.server.action import Action
from pysoa.server.types import EnrichedActionRequest

_NUMBER = fields.Any(fields.Integer(), fields.Float())


class SumOfSquaresAction(Action):
    """Adds up the squares of ``numbers``, squaring them all at once with this service's ``square`` action.

    An ``async def run``: its ``request.client`` is an ``AsyncClient`` whose calls carry this
    request's context and end by its deadline. Over Redis one worker runs it and the ``square``
    calls it makes at the same time, so it needs no second worker.
    """

    request_schema = fields.Dictionary({"numbers": fields.List(_NUMBER)})
    response_schema = fields.Dictionary({"sum": _NUMBER})

    async def run(self, request: EnrichedActionRequest) -> dict[str, Any]:
        client: Any = request.client
        responses = await asyncio.gather(
            *(client.call_action("example", "square", {"number": n}) for n in request.body["numbers"])
        )
        return {"sum": sum(response.body["square"] for response in responses)}
