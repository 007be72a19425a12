"""``soa serve MODULE:CLASS --settings MODULE [--workers N] [--reload]``: run any server class.

The same runtime as a service's ``standalone`` module (:func:`pysoa.runtime.standalone.run_service`),
for services that have none, or for running one with other options.
"""

from __future__ import annotations

import argparse
import os
import sys

from pysoa.errors import ConfigurationError

__all__ = ["add_serve_arguments", "serve"]


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", metavar="MODULE:CLASS", help="the server class, e.g. example_service.server:Server")
    parser.add_argument(
        "-s",
        "--settings",
        metavar="MODULE",
        help="the module holding SOA_SERVER_SETTINGS (with --django: the Django settings module, "
        "default $DJANGO_SETTINGS_MODULE)",
    )
    parser.add_argument(
        "-w",
        "--workers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes; 1 (the default) serves in this process, 2 or more run under a supervisor "
        "that re-spawns workers that die and restarts them one by one on SIGHUP",
    )
    parser.add_argument(
        "--reload", action="store_true", help="restart the service when a source file changes (for development)"
    )
    parser.add_argument(
        "--watch",
        metavar="MODULE,MODULE",
        help="with --reload: watch these packages (default: every loaded module and the server's package)",
    )
    parser.add_argument("--no-respawn", action="store_true", help="with --workers: let workers that die stay dead")
    parser.add_argument(
        "--django",
        action="store_true",
        help="set up Django before importing the server (implied when the server class has use_django = True)",
    )
    parser.add_argument("-d", "--daemon", action="store_true", help="detach from the terminal; prints PID=<pid>")


def serve(args: argparse.Namespace) -> int:
    from pysoa.common.settings import resolve_python_path
    from pysoa.runtime.standalone import RunOptions, run_service
    from pysoa.server.server import Server

    if args.watch and not args.reload:
        raise ConfigurationError("--watch only applies with --reload")
    # Like `python -m`, find the service's modules from the current directory.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    if args.django:
        _setup_django(args.settings)
    if ":" not in args.server:
        raise ConfigurationError(
            f"Name the server class as MODULE:CLASS (e.g. my_service.server:Server), not {args.server!r}"
        )
    try:
        server_class = resolve_python_path(args.server)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    if not (isinstance(server_class, type) and issubclass(server_class, Server)):
        raise ConfigurationError(f"{args.server} is not a Server subclass")
    if server_class.use_django and not args.django:
        _setup_django(args.settings)
    elif not server_class.use_django and not args.settings:
        raise ConfigurationError("Give the settings module with --settings MODULE")

    options = RunOptions(
        settings=args.settings,
        fork=args.workers,
        respawn=not args.no_respawn,
        watch=([m.strip() for m in args.watch.split(",") if m.strip()] if args.watch else []) if args.reload else None,
        daemon=args.daemon,
        # What the server's own main() parses in each worker.
        worker_argv=["soa serve", *(["--settings", args.settings] if args.settings else [])],
    )
    return run_service(lambda: server_class, options)


def _setup_django(settings_module: str | None) -> None:
    from pysoa.server.django_support import setup_django

    module = settings_module or os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        raise ConfigurationError("Give the Django settings module with --settings MODULE or $DJANGO_SETTINGS_MODULE")
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    setup_django()
