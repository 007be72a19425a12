"""The ``soa`` command (also ``python -m pysoa``).

Each subcommand is one :class:`Subcommand` in :data:`SUBCOMMANDS`: a function that adds its
arguments to its parser and a function that runs it and returns the exit status. To add one, write
those two functions and append an entry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from pysoa import _cli_calls
from pysoa.errors import SOAError
from pysoa.runtime import _serve

__all__ = ["SUBCOMMANDS", "Subcommand", "main"]


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --- soa plugins -------------------------------------------------------------------------------


def _plugins_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON list of objects instead of a table")


def _plugins(args: argparse.Namespace) -> int:
    from pysoa.plugins import BLOCK_ENV_VAR, get_plugin_manager

    manager = get_plugin_manager()
    rows = [info.as_dict() for info in manager.describe()]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    columns = [
        ("KIND", "kind"),
        ("NAME", "name"),
        ("CLASS", "class"),
        ("PLUGIN", "plugin"),
        ("DISTRIBUTION", "distribution"),
        ("VERSION", "version"),
    ]
    _print_table(
        sys.stdout, [header for header, _ in columns], [[row[key] or "-" for _, key in columns] for row in rows]
    )
    if manager.blocked:
        print(f"\nBlocked by {BLOCK_ENV_VAR}: {', '.join(sorted(manager.blocked))}")
    return 0


def _print_table(out: TextIO, headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=False)]
    for line in [headers, *rows]:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() + "\n")


SUBCOMMANDS: list[Subcommand] = [
    Subcommand(
        "serve",
        "run a service's workers (MODULE:CLASS --settings MODULE)",
        _serve.add_serve_arguments,
        _serve.serve,
    ),
    Subcommand(
        "call",
        "call an action of a running service, print the body as JSON",
        _cli_calls.add_call_arguments,
        _cli_calls.call,
    ),
    Subcommand(
        "status",
        "show a running service's versions and health checks",
        _cli_calls.add_status_arguments,
        _cli_calls.status,
    ),
    Subcommand(
        "introspect",
        "print a running service's actions and schemas as JSON",
        _cli_calls.add_introspect_arguments,
        _cli_calls.introspect,
    ),
    Subcommand("plugins", "list installed transports, serializers and middleware", _plugins_arguments, _plugins),
]


# --- entry point ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from pysoa.version import __version__

    parser = argparse.ArgumentParser(prog="soa", description="soa-core services and plugins")
    parser.add_argument("--version", action="version", version=f"soa-core {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in SUBCOMMANDS:
        subparser = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``soa`` with ``argv`` (default: the process's arguments); returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except SOAError as exc:
        # Configuration and plugin problems are the user's to fix: say what is wrong, no traceback.
        print(f"soa {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return status
