"""Show the example service answering every call style: ``python -m example_service.demo``.

Over the local transport the service runs inside this process. (See the project README for
running it as worker processes over Redis.)
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pysoa.client import Client


def _show(title: str, value: Any) -> None:
    print(f"\n== {title}")
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def run_calls(client: Client) -> None:
    """Make one call of each style and print what comes back."""
    response = client.call_action("example", "square", {"number": 7})
    _show("call_action('example', 'square', {'number': 7})", response.body)

    job = client.call_actions(
        "example",
        [{"action": "square", "body": {"number": 3}}, {"action": "call_service", "body": {"number": 4}}],
        correlation_id="demo-correlation-id",
    )
    _show("call_actions (one job, run serially by one server)", [a.body for a in job.actions])

    parallel = client.call_actions_parallel("example", [{"action": "square", "body": {"number": n}} for n in (1, 2, 3)])
    _show("call_actions_parallel (one job per action)", [a.body for a in parallel])

    jobs = client.call_jobs_parallel(
        [
            {"service_name": "example", "actions": [{"action": "square", "body": {"number": 10}}]},
            {"service_name": "example", "actions": [{"action": "status", "body": {"verbose": True}}]},
        ]
    )
    _show("call_jobs_parallel (several jobs at once)", [[a.body for a in j.actions] for j in jobs])

    errors = client.call_action("example", "square", {"number": "seven"}, raise_action_errors=False).errors
    _show("a validation error", [{"code": e.code, "field": e.field, "message": e.message} for e in errors])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    from example_service.server import Server
    from example_service.settings import local_settings

    client = Client(
        {
            "example": {
                "transport": {"name": "local", "kwargs": {"server_class": Server, "server_settings": local_settings()}}
            }
        }
    )
    print("The example service over the local transport (in this process)")
    run_calls(client)


if __name__ == "__main__":
    main()
