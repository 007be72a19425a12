"""Client middleware ``echo-stamp``: adds ``context['stamp']`` to every request."""

from __future__ import annotations

from typing import Any, ClassVar

from conformity import fields

from pysoa.client.middleware import ClientMiddleware, ClientRequestMiddlewareTask
from pysoa.common.types import JobRequest

__all__ = ["StampMiddleware"]


class StampMiddleware(ClientMiddleware):
    name = "echo-stamp"
    settings_schema: ClassVar[fields.Base] = fields.Dictionary({"stamp": fields.UnicodeString()})

    def __init__(self, stamp: str) -> None:
        self.stamp = stamp

    def request(self, send_request: ClientRequestMiddlewareTask) -> ClientRequestMiddlewareTask:
        def stamped(request_id: Any, meta: dict[str, Any], job: JobRequest, expiry: float | None) -> None:
            job.context["stamp"] = self.stamp
            send_request(request_id, meta, job, expiry)

        return stamped
