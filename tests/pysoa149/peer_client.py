"""Run calls with a PySOA 1.4.9 ``Client`` over Redis; runs inside the interop venv (see env.py).

Usage:

    .interop-venv/bin/python tests/pysoa149/peer_client.py --redis-port 6380 [options] < calls.json

    --redis-host HOST                 default 127.0.0.1
    --redis-port PORT                 required
    --service NAME                    default service for specs that name none; default pysoa149
    --protocol-version 1|2|3          default 3 (PySOA's default)
    --serializer msgpack|json         the client's content type; default msgpack
    --maximum-message-size-in-bytes N client-side limit; default PySOA's (102400)
    --receive-timeout SECONDS         transport's blocking-read timeout when a call gives none; default 5
    --file PATH                       read the specs from PATH instead of stdin
    --log-level LEVEL                 stderr logging; default WARNING

Input: a tagged-JSON (tagged_json.py) list of call specs. Output: one line on stdout, a tagged-JSON list with one
result per spec, in order. Exit status 0 whenever the input could be read, whatever the calls did.

A spec is an object; ``call`` picks the Client method, and every other key is optional unless marked:

    {"call": "call_action", "action": "square" (required), "body": {...}}
    {"call": "call_actions", "actions": [{"action": ..., "body": {...}}, ...] (required), "continue_on_error": bool}
    {"call": "call_actions_parallel", "actions": [...] (required), "catch_transport_errors": bool}
    {"call": "call_jobs_parallel", "jobs": [{"service_name": ..., "actions": [...]}, ...] (required),
     "continue_on_error": bool, "catch_transport_errors": bool}

  common keys: "service" (not for call_jobs_parallel), "switches": [int], "correlation_id": str, "context": {...},
  "control_extra": {...}, "timeout": int seconds, "raise_job_errors": bool, "raise_action_errors": bool (PySOA's
  defaults: true); client choice: "protocol_version", "serializer", "client" (a label). Specs with the same
  (protocol_version, serializer, client) share one Client object, in spec order, so state a client keeps between
  calls (its reply queue) is exercised as in a real program.

A result is {"ok": true, "elapsed": seconds, "result": R} or {"ok": false, "elapsed": seconds, "error": E}:
  call_action            R = ActionResponse {"action", "errors": [Error], "body"}
  call_actions           R = JobResponse {"errors": [Error], "context", "actions": [ActionResponse]}
  call_actions_parallel  R = [ActionResponse or E (a caught transport error)]
  call_jobs_parallel     R = [JobResponse or E]
  Error = {"code", "message", "field", "traceback", "variables", "denied_permissions", "is_caller_error"}
  E = {"type": exception class name, "module", "message": str(exc), "transient": bool (PySOA transient transport
       error)} plus "actions": [ActionResponse] for CallActionError or "errors": [Error] for CallJobError.
  A malformed spec gives E with type "BadSpec".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytz
import tagged_json

from pysoa.client.client import Client
from pysoa.client.errors import CallActionError, CallJobError
from pysoa.common.transport.errors import TransientPySOATransportError

CALLS = ("call_action", "call_actions", "call_actions_parallel", "call_jobs_parallel")
_COMMON_KEYS = {
    "switches",
    "correlation_id",
    "context",
    "control_extra",
    "timeout",
    "raise_job_errors",
    "raise_action_errors",
}
_ALLOWED_KEYS = {
    "call_action": {"action", "body"},
    "call_actions": {"actions", "continue_on_error"},
    "call_actions_parallel": {"actions", "catch_transport_errors"},
    "call_jobs_parallel": {"jobs", "continue_on_error", "catch_transport_errors"},
}
_CLIENT_KEYS = {"call", "service", "protocol_version", "serializer", "client"}


class BadSpec(Exception):
    """A call spec that does not follow the format in this module's docstring."""


def error_to_json(error: Any) -> dict[str, Any]:
    return {
        "code": error.code,
        "message": error.message,
        "field": error.field,
        "traceback": error.traceback,
        "variables": error.variables,
        "denied_permissions": error.denied_permissions,
        "is_caller_error": error.is_caller_error,
    }


def action_response_to_json(response: Any) -> dict[str, Any]:
    return {
        "action": response.action,
        "errors": [error_to_json(error) for error in response.errors],
        "body": response.body,
    }


def job_response_to_json(response: Any) -> dict[str, Any]:
    return {
        "errors": [error_to_json(error) for error in response.errors],
        "context": response.context,
        "actions": [action_response_to_json(action) for action in response.actions],
    }


def exception_to_json(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": type(exc).__name__,
        "module": type(exc).__module__,
        "message": str(exc),
        "transient": isinstance(exc, TransientPySOATransportError),
    }
    if isinstance(exc, CallActionError):
        out["actions"] = [action_response_to_json(action) for action in exc.actions]
    if isinstance(exc, CallJobError):
        out["errors"] = [error_to_json(error) for error in exc.errors]
    return out


class Clients:
    """One PySOA Client per (protocol version, serializer, label), configured for every service the specs name."""

    def __init__(self, args: argparse.Namespace, services: set[str]) -> None:
        self._args = args
        self._services = services
        self._clients: dict[tuple[int, str, str], Client] = {}

    def get(self, protocol_version: int, serializer: str, label: str) -> Client:
        key = (protocol_version, serializer, label)
        if key not in self._clients:
            self._clients[key] = Client({name: self._settings(protocol_version, serializer) for name in self._services})
        return self._clients[key]

    def _settings(self, protocol_version: int, serializer: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "backend_type": "redis.standard",
            "backend_layer_kwargs": {"hosts": [(self._args.redis_host, self._args.redis_port)]},
            "protocol_version": protocol_version,
            "receive_timeout_in_seconds": self._args.receive_timeout,
        }
        if serializer == "json":
            kwargs["default_serializer_config"] = {"path": "pysoa.common.serializer.json_serializer:JSONSerializer"}
        if self._args.maximum_message_size_in_bytes is not None:
            kwargs["maximum_message_size_in_bytes"] = self._args.maximum_message_size_in_bytes
        return {
            "transport": {
                "path": "pysoa.common.transport.redis_gateway.client:RedisClientTransport",
                "kwargs": kwargs,
            },
        }


def _check_spec(spec: Any, default_service: str) -> tuple[str, dict[str, Any]]:
    """Validate one spec; return the Client method name and its keyword arguments."""
    if not isinstance(spec, dict):
        raise BadSpec(f"a call spec must be an object, got {type(spec).__name__}")
    call = spec.get("call")
    if call not in CALLS:
        raise BadSpec(f"'call' must be one of {', '.join(CALLS)}; got {call!r}")
    unknown = set(spec) - _ALLOWED_KEYS[call] - _COMMON_KEYS - _CLIENT_KEYS
    if unknown:
        raise BadSpec(f"unknown keys for {call}: {', '.join(sorted(unknown))}")
    kwargs = {key: value for key, value in spec.items() if key not in _CLIENT_KEYS}
    if call == "call_jobs_parallel":
        if "service" in spec:
            raise BadSpec("call_jobs_parallel takes the services inside 'jobs', not 'service'")
        jobs = spec.get("jobs")
        if not isinstance(jobs, list) or not all(isinstance(job, dict) for job in jobs):
            raise BadSpec("call_jobs_parallel needs 'jobs': a list of {service_name, actions}")
        kwargs["jobs"] = []
        for job in jobs:
            if "actions" not in job:
                raise BadSpec("every job needs 'actions'")
            service = job.get("service_name", job.get("service", default_service))
            kwargs["jobs"].append({"service_name": service, "actions": job["actions"]})
    else:
        kwargs["service_name"] = spec.get("service", default_service)
        required = "action" if call == "call_action" else "actions"
        if required not in spec:
            raise BadSpec(f"{call} needs {required!r}")
    return call, kwargs


def _services_named(specs: list[Any], default_service: str) -> set[str]:
    services = {default_service}
    for spec in specs:
        if isinstance(spec, dict):
            if isinstance(spec.get("service"), str):
                services.add(spec["service"])
            for job in spec.get("jobs") or []:
                if isinstance(job, dict):
                    name = job.get("service_name", job.get("service"))
                    if isinstance(name, str):
                        services.add(name)
    return services


def _convert(call: str, value: Any) -> Any:
    if call == "call_action":
        return action_response_to_json(value)
    if call == "call_actions":
        return job_response_to_json(value)
    convert_one = action_response_to_json if call == "call_actions_parallel" else job_response_to_json
    return [exception_to_json(item) if isinstance(item, BaseException) else convert_one(item) for item in value]


def run_spec(clients: Clients, args: argparse.Namespace, spec: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        call, kwargs = _check_spec(spec, args.service)
        client = clients.get(
            int(spec.get("protocol_version", args.protocol_version)),
            str(spec.get("serializer", args.serializer)),
            str(spec.get("client", "")),
        )
        value = getattr(client, call)(**kwargs)
        if call == "call_actions_parallel":
            value = list(value)  # PySOA returns a generator
        # Encoded here so a value tagged JSON cannot carry is reported as this call's error.
        result = tagged_json.encode(_convert(call, value))
    except Exception as exc:  # every failure, PySOA's or ours, becomes a structured result
        return {"ok": False, "elapsed": time.monotonic() - started, "error": tagged_json.encode(exception_to_json(exc))}
    return {"ok": True, "elapsed": time.monotonic() - started, "result": result}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run calls with a PySOA 1.4.9 client over Redis")
    parser.add_argument("--redis-host", default="127.0.0.1")
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--service", default="pysoa149")
    parser.add_argument("--protocol-version", type=int, choices=(1, 2, 3), default=3)
    parser.add_argument("--serializer", choices=("msgpack", "json"), default="msgpack")
    parser.add_argument("--maximum-message-size-in-bytes", type=int, default=None)
    parser.add_argument("--receive-timeout", type=int, default=5)
    parser.add_argument("--file", default=None)
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if args.file:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
    else:
        text = sys.stdin.read()
    try:
        # PySOA's msgpack serializer only encodes aware datetimes whose tzinfo is pytz.UTC itself.
        specs = tagged_json.loads(text, utc=pytz.UTC)
    except ValueError as exc:
        print(f"peer_client: input is not tagged JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(specs, list):
        print("peer_client: input must be a JSON list of call specs", file=sys.stderr)
        return 2
    clients = Clients(args, _services_named(specs, args.service))
    results = [run_spec(clients, args, spec) for spec in specs]
    sys.stdout.write(json.dumps(results) + "\n")  # already encoded, result by result
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
