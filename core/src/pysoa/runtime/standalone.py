"""Entry points for service modules: ``simple_main(lambda: Server)`` and ``django_main(lambda: Server)``.

A service's ``standalone.py``::

    from pysoa.server.standalone import simple_main

    def main():
        from my_service.server import Server
        simple_main(lambda: Server)

    if __name__ == "__main__":
        main()

run as ``python -m my_service.standalone -s my_service.settings [options]`` or through a console
script. Options (as in PySOA 1.4):

* ``-s/--settings MODULE``: the module holding ``SOA_SERVER_SETTINGS`` (for ``django_main``, the
  Django settings module; optional when ``DJANGO_SETTINGS_MODULE`` is set);
* ``-f/--fork-processes/--fork N``: run N worker processes under a supervisor that re-spawns them
  (``N <= 1``: serve in this process);
* ``--no-respawn``: let dead workers stay dead;
* ``--use-file-watcher [MODULE,MODULE]``: restart the service when a source file changes (every
  loaded module is watched when no module is named);
* ``-d/--daemon``: detach (print ``PID=<pid>`` and return to the shell).

Never start the module as ``python path/to/standalone.py``: a module inside a package started that
way is imported twice (as ``__main__`` and under its real name), so every class exists twice. That
is refused with exit status 99 and a message saying how to start it instead.

A service whose transport finds its configuration unusable at start-up (refused credentials,
missing ACL rights, a broken TLS set-up) exits with :data:`EXIT_CONFIGURATION_ERROR` (78, sysexits'
``EX_CONFIG``); the supervisor does not respawn such a worker but stops the service with that status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import logging.config
import os
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from pysoa.errors import ConfigurationError
from pysoa.server._exit_status import EXIT_CONFIGURATION_ERROR

if TYPE_CHECKING:
    from pysoa.server.server import Server
    from pysoa.server.settings import ServerSettings

__all__ = [
    "EXIT_CONFIGURATION_ERROR",
    "EXIT_STARTED_AS_SCRIPT",
    "RunOptions",
    "check_not_started_as_script",
    "django_main",
    "load_server_settings",
    "parse_options",
    "run_service",
    "simple_main",
]

EXIT_STARTED_AS_SCRIPT = 99
_DAEMON_FLAGS = ("-d", "--daemon")


@dataclass
class RunOptions:
    """How to run a service. ``watch``: ``None`` for no reloading, ``[]`` to watch every loaded module."""

    settings: str | None = None
    fork: int = 0
    respawn: bool = True
    watch: list[str] | None = None
    daemon: bool = False
    worker_argv: list[str] | None = None


# --- the double-import trap ----------------------------------------------------------------------------


def _dotted_name(path: str) -> str:
    """``/src/pkg/sub/standalone.py`` -> ``pkg.sub.standalone``: climb while directories are packages."""
    directory, filename = os.path.split(os.path.abspath(path))
    parts = [os.path.splitext(filename)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    return ".".join(parts)


def check_not_started_as_script() -> None:
    """Exit with status 99 when ``__main__`` is a module of a package that was started by its path."""
    main_module = sys.modules.get("__main__")
    if main_module is None or getattr(main_module, "__spec__", None) is not None:
        return  # started with -m (or embedded): imported once, under its real name
    path = getattr(main_module, "__file__", None)
    if not isinstance(path, str) or not os.path.isfile(os.path.join(os.path.dirname(path) or ".", "__init__.py")):
        return  # a plain script outside any package (a console script, say) cannot be imported twice
    module = _dotted_name(path)
    sys.stderr.write(
        f"ERROR: {path} was started as a script, but it is the module {module!r} of a package.\n"
        f"Started that way it is imported twice (as __main__ and as {module}), so every class in it exists twice.\n"
        f"Start it as a module instead:\n"
        f"    python -m {module} {' '.join(sys.argv[1:])}\n"
        f"or through its console script.\n"
    )
    sys.stderr.flush()
    raise SystemExit(EXIT_STARTED_AS_SCRIPT)


# --- options --------------------------------------------------------------------------------------------


def _parser(use_django: bool, description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    if use_django:
        parser.add_argument(
            "-s", "--settings", help="the Django settings module (default: $DJANGO_SETTINGS_MODULE)", metavar="MODULE"
        )
    else:
        parser.add_argument(
            "-s", "--settings", required=True, metavar="MODULE", help="the module holding SOA_SERVER_SETTINGS"
        )
    parser.add_argument(
        "-f",
        "--fork-processes",
        "--fork",
        dest="fork",
        type=int,
        default=0,
        metavar="N",
        help="run N worker processes under a supervisor that re-spawns them (default: serve in this process)",
    )
    parser.add_argument(
        "--no-respawn", dest="respawn", action="store_false", help="with --fork: do not re-spawn workers that die"
    )
    parser.add_argument(
        "--use-file-watcher",
        nargs="?",
        const="",
        default=None,
        metavar="MODULE,MODULE",
        help="restart the service when a watched source file changes (default: every loaded module)",
    )
    parser.add_argument("-d", "--daemon", action="store_true", help="detach from the terminal; prints PID=<pid>")
    return parser


def parse_options(argv: Sequence[str] | None = None, use_django: bool = False) -> RunOptions:
    """Parse the standalone options from ``argv`` (default ``sys.argv``); other arguments are left alone."""
    argv = list(sys.argv if argv is None else argv)
    args, _unknown = _parser(use_django).parse_known_args(argv[1:])
    watch = None if args.use_file_watcher is None else [m.strip() for m in args.use_file_watcher.split(",") if m]
    return RunOptions(
        settings=args.settings,
        fork=args.fork,
        respawn=args.respawn,
        watch=watch,
        daemon=args.daemon,
        worker_argv=_without_daemon_flag(argv),
    )


def _without_daemon_flag(argv: Sequence[str]) -> list[str]:
    # Children of a daemonised process must not detach again.
    return [arg for arg in argv if arg not in _DAEMON_FLAGS]


# --- settings and logging -----------------------------------------------------------------------------------


def load_server_settings(server_class: type[Server], settings_module: str | None) -> ServerSettings:
    """The validated settings ``server_class.main()`` will use, loaded the same way it loads them."""
    raw: Any
    if server_class.use_django:
        from django.conf import settings as django_settings

        raw = getattr(django_settings, "SOA_SERVER_SETTINGS", None)
        if raw is None:
            raise ConfigurationError(
                f"The Django settings ({django_settings.SETTINGS_MODULE}) have no SOA_SERVER_SETTINGS"
            )
    else:
        if not settings_module:
            raise ConfigurationError("No settings module given (-s/--settings MODULE)")
        try:
            module = importlib.import_module(settings_module)
        except ImportError as exc:
            raise ConfigurationError(f"Cannot import the settings module {settings_module!r}: {exc}") from exc
        raw = getattr(module, "SOA_SERVER_SETTINGS", None) or getattr(module, "settings", None)
        if raw is None:
            raise ConfigurationError(f"The settings module {settings_module!r} has no SOA_SERVER_SETTINGS")
    return server_class.settings_class(raw)


def _configure_logging(server_class: type[Server], settings: ServerSettings) -> None:
    from pysoa.common.logging import PySOALogContextFilter

    PySOALogContextFilter.set_service_name(server_class.service_name or "unknown")
    logging.config.dictConfig(dict(settings["logging"]))


# --- running -----------------------------------------------------------------------------------------------------


def _daemonize() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        print(f"PID={pid}", flush=True)
        os._exit(0)
    os.setsid()  # out of the terminal's session: closing the terminal must not signal the service
    # Whoever reads the PID from a pipe (PID=$(... -d)) waits for end-of-file: the daemon must let go
    # of that pipe. A terminal or a log file stays: the service's output goes on there.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    if stat.S_ISFIFO(os.fstat(1).st_mode):
        os.dup2(devnull, 1)
    os.close(devnull)


def run_service(get_server_class: Callable[[], type[Server]], options: RunOptions) -> int:
    """Run a service as ``options`` say: in this process, under a supervisor, and/or under the reloader.

    Returns the exit status. Bad settings fail here, before anything is forked, with a
    :class:`~pysoa.errors.ConfigurationError`.
    """
    from pysoa.runtime import _reloader
    from pysoa.runtime._lifeline import watch_in_thread

    server_class = get_server_class()
    settings = load_server_settings(server_class, options.settings)
    if options.daemon:
        _daemonize()  # only now: bad settings are still reported to the terminal, with a failing status
    argv = options.worker_argv if options.worker_argv is not None else _without_daemon_flag(sys.argv)

    if options.watch is not None and not _reloader.is_reloader_child():
        _configure_logging(server_class, settings)
        watcher = _reloader.FileWatcher(options.watch, roots=[server_class.__module__])
        return _reloader.run_reloader(_reloader.child_command(_without_daemon_flag(sys.argv)), watcher)

    lifeline_fd = _reloader.parent_lifeline_fd()
    if options.fork > 1:
        from pysoa.runtime._supervisor import Supervisor

        _configure_logging(server_class, settings)
        supervisor = Supervisor(
            server_class,
            options.fork,
            respawn=options.respawn,
            worker_argv=argv,
            heartbeat_file=settings["heartbeat_file"],
            parent_lifeline_fd=lifeline_fd,
        )
        return supervisor.run()

    if lifeline_fd is not None:
        watch_in_thread(lifeline_fd)
    sys.argv = list(argv)
    server_class.main()
    return 0


def _exit(status: int) -> NoReturn:
    sys.stdout.flush()
    raise SystemExit(status)


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"ERROR: {message}\n")
    _exit(1)


def simple_main(get_server_class: Callable[[], type[Server]]) -> None:
    """Run a service from its ``standalone`` module: ``-s/--settings MODULE`` and the options above."""
    check_not_started_as_script()
    options = parse_options()
    try:
        status = run_service(get_server_class, options)
    except ConfigurationError as exc:
        _fail(str(exc))
    _exit(status)


def django_main(get_server_class: Callable[[], type[Server]], settings_module: str | None = None) -> None:
    """Like :func:`simple_main`, for a Django project: ``-s`` names the Django settings module.

    The module comes from ``-s/--settings``, else ``settings_module``, else ``$DJANGO_SETTINGS_MODULE``.
    Django is set up (with the server's logging configuration, see
    :func:`pysoa.server.django_support.setup_django`) before ``get_server_class`` is called, so the
    server module may import models.
    """
    check_not_started_as_script()
    options = parse_options(use_django=True)
    module = options.settings or settings_module or os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        _fail("Give the Django settings module with -s/--settings or $DJANGO_SETTINGS_MODULE")
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    from pysoa.server.django_support import setup_django

    try:
        setup_django()
        status = run_service(get_server_class, options)
    except ConfigurationError as exc:
        _fail(str(exc))
    _exit(status)
