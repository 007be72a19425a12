"""The job request schema, and a fast structural check that avoids running it for valid requests.

Conformity produces PySOA's exact error codes, messages and pointers, but walking the schema costs
more than the rest of a small job. :func:`job_request_errors` first does a plain-Python check of
the same rules; only a request that fails it is run through Conformity, for the precise errors.
"""

from __future__ import annotations

from typing import Any

from conformity import fields
from conformity.error import Error as SchemaError

__all__ = [
    "ActionRequestSchema",
    "ContextHeaderSchema",
    "ControlHeaderSchema",
    "JobRequestSchema",
    "job_request_errors",
    "looks_valid",
]

ActionRequestSchema = fields.Dictionary(
    {
        "action": fields.UnicodeString(),
        "body": fields.SchemalessDictionary(key_type=fields.UnicodeString()),
    },
    optional_keys=("body",),
)

ControlHeaderSchema = fields.Dictionary(
    {
        "continue_on_error": fields.Boolean(),
        "suppress_response": fields.Boolean(),
        # Unix seconds on the sender's clock (docs/deadlines.md); PySOA 1.4 servers ignore it.
        "deadline": fields.Float(),
    },
    optional_keys=("suppress_response", "deadline"),
    allow_extra_keys=True,
)

ContextHeaderSchema = fields.Dictionary(
    {
        "switches": fields.List(fields.Integer()),
        "correlation_id": fields.UnicodeString(),
        "caller": fields.UnicodeString(),
        "calling_service": fields.UnicodeString(),
    },
    optional_keys=("caller", "calling_service"),
    allow_extra_keys=True,
)

JobRequestSchema = fields.Dictionary(
    {
        "control": ControlHeaderSchema,
        "context": ContextHeaderSchema,
        "actions": fields.List(ActionRequestSchema, min_length=1),
    },
)


def looks_valid(job: Any) -> bool:
    """Whether ``job`` is plainly a valid job request (``False`` may still be valid: ask :func:`job_request_errors`)."""
    if type(job) is not dict or len(job) != 3:
        return False
    control = job.get("control")
    context = job.get("context")
    actions = job.get("actions")
    if type(control) is not dict or type(context) is not dict or type(actions) is not list or not actions:
        return False
    if type(control.get("continue_on_error")) is not bool:
        return False
    if "suppress_response" in control and type(control["suppress_response"]) is not bool:
        return False
    if "deadline" in control and type(control["deadline"]) not in (float, int):
        return False
    if type(context.get("correlation_id")) is not str:
        return False
    switches = context.get("switches")
    if type(switches) is not list:
        return False
    for switch in switches:  # loops, not any() over generators: this runs for every job
        if type(switch) is not int:
            return False
    if "caller" in context and type(context["caller"]) is not str:
        return False
    if "calling_service" in context and type(context["calling_service"]) is not str:
        return False
    for action in actions:
        if type(action) is not dict or type(action.get("action")) is not str:
            return False
        if len(action) == 2:
            body = action.get("body")
            if type(body) is not dict:
                return False
            for key in body:
                if type(key) is not str:
                    return False
        elif len(action) != 1:
            return False
    return True


def job_request_errors(job: Any) -> list[SchemaError]:
    """The Conformity errors of a job request; empty when it is valid."""
    if looks_valid(job):
        return []
    return list(JobRequestSchema.errors(job))
