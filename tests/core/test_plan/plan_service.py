"""A small service for the test-plan tests: users, a dice roll (to mock), a call to another service
(to stub), the clock (to freeze) and an echo of the job's context and control."""

from __future__ import annotations

import datetime
import random
from typing import Any

from pysoa.common.types import Error
from pysoa.errors import ActionError, CallActionError
from pysoa.server import Server
from pysoa.server.types import EnrichedActionRequest

USERS = {
    1838: {"id": 1838, "username": "john.smith", "name": "John Smith", "email": None},
    1792: {"id": 1792, "username": "jane.sanders", "name": "Jane Sanders", "email": "jane@example.net"},
}


def get_user(request: EnrichedActionRequest) -> dict[str, Any]:
    user = USERS.get(request.body.get("id"))  # type: ignore[arg-type]
    if user is None:
        raise ActionError([Error(code="NOT_FOUND", message="No such user", field="id")])
    return {"user": dict(user), "tags": ["a", "b"]}


def get_user_url(request: EnrichedActionRequest) -> dict[str, Any]:
    locale = request.context.get("locale", "en_US")
    return {"user_url": f"https://example.net/{locale[:2]}/u/{request.body['username']}/"}


def roll(request: EnrichedActionRequest) -> dict[str, Any]:
    return {"rolled": random.randint(1, request.body.get("sides", 6))}


def greet(request: EnrichedActionRequest) -> dict[str, Any]:
    assert request.client is not None
    try:
        profile = request.client.call_action("profiles", "get_profile", {"user_id": request.body["user_id"]})
    except CallActionError as exc:
        raise ActionError([Error(code="PROFILE_FAILED", message=exc.actions[0].errors[0].code or "")]) from None
    return {"greeting": f"Hello, {profile.body['nickname']}!"}


def clock(request: EnrichedActionRequest) -> dict[str, Any]:
    now = datetime.datetime.now()
    return {"now": now.isoformat(), "date": now.date().isoformat(), "year": now.year}


def echo_job(request: EnrichedActionRequest) -> dict[str, Any]:
    return {
        "body": dict(request.body),
        "locale": request.context.get("locale"),
        "switches": list(request.context.get("switches", [])),
        "control_flag": request.control.get("flag"),
    }


class PlanServer(Server):
    service_name = "plans"
    action_class_map = {
        "get_user": get_user,
        "get_user_url": get_user_url,
        "roll": roll,
        "greet": greet,
        "clock": clock,
        "echo_job": echo_job,
    }
