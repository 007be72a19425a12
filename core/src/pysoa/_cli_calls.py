"""``soa call``, ``soa status`` and ``soa introspect``: call a running service from the shell.

Exit status: 0 success; 1 the service answered with errors (or, for ``status``, its health checks
report errors); 2 bad arguments; 3 the service could not be reached (no server answered in time,
the broker is down).

Responses are printed as JSON. Values JSON has no type for are written so that nothing is lost:
date, time and datetime as ISO 8601 strings, ``Decimal`` as its exact string, currency amounts as
``"12.34 USD"``, bytes as base64 text, sets and tuples as lists.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import decimal
import importlib
import json
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pysoa.errors import ConfigurationError, TransportError

if TYPE_CHECKING:
    from pysoa.client.client import Client
    from pysoa.common.types import Error, JobResponse

__all__ = [
    "DEFAULT_REDIS_URL",
    "EXIT_ERRORS",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "add_call_arguments",
    "add_introspect_arguments",
    "add_status_arguments",
    "call",
    "introspect",
    "json_default",
    "status",
]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
EXIT_ERRORS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


# --- JSON output -------------------------------------------------------------------------------------


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for the values a response may carry beyond JSON's own types."""
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if type(value).__name__ == "Amount" and type(value).__module__.startswith("currint"):
        return str(value)  # "12.34 USD": exact, and says which currency
    raise TypeError(f"Cannot show a {type(value).__name__} as JSON: {value!r}")


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=json_default, ensure_ascii=False) + "\n")


# --- reaching the service --------------------------------------------------------------------------------------


_EPILOG = (
    "exit status: 0 success, 1 the service answered with errors, 2 bad arguments, 3 the service could not be reached"
)


def _add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _EPILOG
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--transport",
        metavar="NAME|JSON",
        help='the client transport: a plugin name (e.g. redis) or a JSON object {"name": ..., "kwargs": {...}} '
        f"(default: Redis at {DEFAULT_REDIS_URL})",
    )
    where.add_argument("--redis", metavar="URL", help="shorthand for the Redis transport at URL")
    where.add_argument(
        "--settings",
        metavar="MODULE",
        help="a module whose SOA_CLIENT_SETTINGS (or SOA_SERVER_SETTINGS['client_routing']) configures the service",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="how long to wait for the response (10)"
    )


def _transport_setting(args: argparse.Namespace) -> Any:
    if args.redis:
        return {"name": "redis", "kwargs": {"url": args.redis}}
    if not args.transport:
        return {"name": "redis", "kwargs": {"url": DEFAULT_REDIS_URL}}
    text = args.transport.strip()
    if not text.startswith("{"):
        return text
    try:
        setting = json.loads(text)
    except ValueError as exc:
        raise _UsageError(f"--transport is not valid JSON: {exc}") from None
    return setting


def _service_settings(args: argparse.Namespace) -> Mapping[str, Any]:
    if not args.settings:
        return {"transport": _transport_setting(args)}
    try:
        module = importlib.import_module(args.settings)
    except ImportError as exc:
        raise ConfigurationError(f"Cannot import the settings module {args.settings!r}: {exc}") from exc
    routing = getattr(module, "SOA_CLIENT_SETTINGS", None)
    if routing is None:
        routing = (getattr(module, "SOA_SERVER_SETTINGS", None) or {}).get("client_routing")
    if not isinstance(routing, Mapping):
        raise ConfigurationError(
            f"The settings module {args.settings!r} has neither SOA_CLIENT_SETTINGS "
            "nor SOA_SERVER_SETTINGS['client_routing']"
        )
    if args.service not in routing:
        known = ", ".join(sorted(routing)) or "none"
        raise ConfigurationError(
            f"The settings module {args.settings!r} has no settings for {args.service!r} (it has: {known})"
        )
    settings: Mapping[str, Any] = routing[args.service]
    return settings


def _client(args: argparse.Namespace) -> Client:
    from pysoa.client.client import Client

    return Client({args.service: _service_settings(args)})


class _UsageError(Exception):
    """Bad command-line input (exit status 2)."""


def _call(args: argparse.Namespace, action: str, body: Mapping[str, Any], **kwargs: Any) -> JobResponse:
    response: JobResponse = _client(args).call_actions(
        args.service,
        [{"action": action, "body": dict(body)}],
        raise_job_errors=False,
        raise_action_errors=False,
        timeout=args.timeout,
        **kwargs,
    )
    return response


def _errors(response: JobResponse) -> list[Error]:
    return list(response.errors) or [error for action in response.actions for error in action.errors]


def _error_dict(error: Error) -> dict[str, Any]:
    return {key: value for key, value in error.to_dict().items() if value is not None}


def _describe_errors(errors: list[Error]) -> str:
    lines = []
    for error in errors:
        where = f" (field {error.field})" if error.field else ""
        lines.append(f"  {error.code}{where}: {error.message}")
    return "\n".join(lines)


def _run(command: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], int]) -> int:
    """Shared by the commands: map bad input and unreachable services to exit statuses and messages."""
    try:
        return body(args)
    except (_UsageError, ConfigurationError) as exc:
        print(f"soa {command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TransportError as exc:
        print(
            f"soa {command}: could not reach service {args.service!r}: {type(exc).__name__}: {exc}\n"
            "  Is a server running, and is the transport right (--transport, --redis or --settings)?",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE


# --- soa call ----------------------------------------------------------------------------------------------------


def add_call_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", metavar="SERVICE", help="the service name")
    parser.add_argument("action", metavar="ACTION", help="the action name")
    parser.add_argument(
        "body", metavar="BODY", nargs="?", default="{}", help="the request body as a JSON object ('-' reads stdin)"
    )
    parser.add_argument(
        "--switch", type=int, action="append", default=[], metavar="N", help="an active switch (repeatable)"
    )
    parser.add_argument("--correlation-id", metavar="ID", help="the request's correlation id (default: random)")
    parser.add_argument(
        "--full", action="store_true", help="print the whole job response (errors, context, actions), not just the body"
    )
    _add_client_arguments(parser)


def _parse_body(text: str) -> dict[str, Any]:
    if text == "-":
        text = sys.stdin.read()
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise _UsageError(f"BODY is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _UsageError(f"BODY must be a JSON object, not {type(body).__name__}")
    return body


def _call_command(args: argparse.Namespace) -> int:
    body = _parse_body(args.body)
    response = _call(args, args.action, body, switches=args.switch, correlation_id=args.correlation_id)
    errors = _errors(response)
    if args.full:
        _print_json(response.to_dict())
    elif errors:
        _print_json({"errors": [_error_dict(error) for error in errors]})
    else:
        _print_json(response.actions[0].body)
    if errors:
        print(f"soa call: {args.service}.{args.action} failed:\n{_describe_errors(errors)}", file=sys.stderr)
        return EXIT_ERRORS
    return 0


def call(args: argparse.Namespace) -> int:
    return _run("call", args, _call_command)


# --- soa status --------------------------------------------------------------------------------------------------


def add_status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", metavar="SERVICE", help="the service name")
    parser.add_argument("--json", action="store_true", help="print the status response as JSON")
    parser.add_argument("--no-checks", action="store_true", help="only versions: do not run the health checks")
    parser.add_argument(
        "--runtime", action="store_true", help="add the answering worker's uptime, jobs, errors and latencies"
    )
    _add_client_arguments(parser)


def _status_command(args: argparse.Namespace) -> int:
    response = _call(args, "status", {"verbose": not args.no_checks, **({"runtime": True} if args.runtime else {})})
    errors = _errors(response)
    if errors:
        print(f"soa status: {args.service}.status failed:\n{_describe_errors(errors)}", file=sys.stderr)
        return EXIT_ERRORS
    body = response.actions[0].body
    health = body.get("healthcheck") or {}
    if args.json:
        _print_json(body)
    else:
        versions = ", ".join(
            f"{label} {body[key]}"
            for label, key in (("version", "version"), ("build", "build"), ("soa-core", "pysoa"), ("Python", "python"))
            if body.get(key)
        )
        print(f"{args.service}: {versions}")
        if "healthcheck" in body:
            problems = [("ERROR", *e) for e in health.get("errors", [])] + [
                ("WARNING", *w) for w in health.get("warnings", [])
            ]
            print("health: " + ("errors" if health.get("errors") else "ok"))
            for level, code, description in problems:
                print(f"  {level} {code}: {description}")
            for key, value in (health.get("diagnostics") or {}).items():
                print(f"  {key}: {json.dumps(value, default=json_default)}")
        if "runtime" in body:
            _print_runtime(body["runtime"])
    return EXIT_ERRORS if health.get("errors") else 0


def _print_runtime(runtime: dict[str, Any]) -> None:
    print(
        f"worker pid {runtime['pid']}: up {runtime['uptime_seconds']:.0f} s, {runtime['jobs']} jobs, "
        f"{runtime['jobs_with_errors']} with errors, {runtime['in_flight']} in flight (this one included)"
    )
    for name, figures in runtime["actions"].items():
        print(
            f"  {name}: {figures['count']} calls, {figures['errors']} errors, p50 {figures['p50_ms']} ms, "
            f"p90 {figures['p90_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms"
        )


def status(args: argparse.Namespace) -> int:
    return _run("status", args, _status_command)


# --- soa introspect ----------------------------------------------------------------------------------------------


def add_introspect_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", metavar="SERVICE", help="the service name")
    parser.add_argument("action", metavar="ACTION", nargs="?", help="describe only this action")
    _add_client_arguments(parser)


def _introspect_command(args: argparse.Namespace) -> int:
    response = _call(args, "introspect", {"action_name": args.action} if args.action else {})
    errors = _errors(response)
    if errors:
        print(f"soa introspect: {args.service}.introspect failed:\n{_describe_errors(errors)}", file=sys.stderr)
        return EXIT_ERRORS
    _print_json(response.actions[0].body)
    return 0


def introspect(args: argparse.Namespace) -> int:
    return _run("introspect", args, _introspect_command)
