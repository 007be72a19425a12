"""``--use-file-watcher`` / ``soa serve --reload``: restart the service when its source changes.

The process the user started becomes a small *reloader*: it runs the same command again as a child
(with :data:`RUN_MAIN_ENV` set, so the child serves instead of reloading), polls the modification
times of the watched files once a second, and on a change stops the child gracefully (``SIGTERM``:
in-flight jobs finish) and starts a fresh one, which imports the new code. Re-executing, rather
than re-forking, is what makes new code load: a fork would only copy the old modules.

Polling costs a few hundred ``stat`` calls a second and works everywhere (containers, network
mounts, macOS), so no inotify dependency. A child that crashes (a syntax error, say) is not
restarted in a loop: the reloader waits for the next change. ``SIGTERM``/``SIGINT`` stop the child
(passed on as :func:`~pysoa.runtime._supervisor.stop_signal_to_forward` says) and then the
reloader; ``SIGHUP`` is passed on (a rolling restart of the workers). The child watches a
:class:`~pysoa.runtime._lifeline.Lifeline`, so it stops if the reloader is killed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from types import FrameType

from pysoa.errors import ConfigurationError
from pysoa.runtime._lifeline import Lifeline
from pysoa.runtime._supervisor import stop_signal_to_forward

__all__ = [
    "LIFELINE_ENV",
    "RUN_MAIN_ENV",
    "FileWatcher",
    "child_command",
    "is_reloader_child",
    "parent_lifeline_fd",
    "run_reloader",
]

logger = logging.getLogger("pysoa.server.reloader")

RUN_MAIN_ENV = "PYSOA_RELOADER_RUN_MAIN"
LIFELINE_ENV = "PYSOA_RELOADER_LIFELINE_FD"
# PySOA's variable: a wrapper program (e.g. coverage) that the child command is run under.
WRAPPER_ENV = "PYSOA_RELOADER_WRAPPER_BIN"
_SOURCE_SUFFIXES = (".py", ".pyi", ".so", ".pyd")


def is_reloader_child() -> bool:
    return os.environ.get(RUN_MAIN_ENV) == "true"


def parent_lifeline_fd() -> int | None:
    """In a reloader's child: the read end of the reloader's lifeline (see :mod:`~pysoa.runtime._lifeline`)."""
    value = os.environ.get(LIFELINE_ENV)
    return int(value) if value and value.isdigit() and is_reloader_child() else None


class FileWatcher:
    """Finds what changed since the last look, by modification time.

    ``modules`` names packages or modules to watch (every source file under a package, new ones
    included). Without them, every module loaded in this process is watched, plus every source
    file under the top-level packages of ``roots`` (so modules imported later, and new files, count).
    """

    def __init__(self, modules: Sequence[str] | None = None, roots: Iterable[str] = ()) -> None:
        self.modules = list(modules or [])
        self._directories: list[str] = []
        self._files: list[str] = []
        for name in self.modules or {root.partition(".")[0] for root in roots}:
            self._add_module(name)
        self._snapshot = self.snapshot()

    def _add_module(self, name: str) -> None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(f"Cannot watch module {name!r}: {exc}") from exc
        if spec is None:
            raise ConfigurationError(f"Cannot watch module {name!r}: no such module")
        if spec.submodule_search_locations:
            self._directories.extend(spec.submodule_search_locations)
        elif spec.origin and os.path.isfile(spec.origin):
            self._files.append(spec.origin)

    def files(self) -> set[str]:
        found = set(self._files)
        if not self.modules:
            for module in list(sys.modules.values()):
                path = getattr(module, "__file__", None)
                if isinstance(path, str) and path.endswith(_SOURCE_SUFFIXES):
                    found.add(path)
        for directory in self._directories:
            for parent, subdirectories, names in os.walk(directory):
                subdirectories[:] = [d for d in subdirectories if d != "__pycache__" and not d.startswith(".")]
                found.update(os.path.join(parent, name) for name in names if name.endswith(_SOURCE_SUFFIXES))
        return found

    def snapshot(self) -> dict[str, float]:
        times: dict[str, float] = {}
        for path in self.files():
            try:
                times[path] = os.stat(path).st_mtime
            except OSError:
                pass  # deleted between listing and stat: it shows up as removed
        return times

    def changed(self) -> list[str]:
        """Files added, removed or modified since the last call (or since construction)."""
        current = self.snapshot()
        previous, self._snapshot = self._snapshot, current
        return sorted(path for path in current.keys() | previous.keys() if current.get(path) != previous.get(path))


def child_command(argv: Sequence[str] | None = None) -> list[str]:
    """The command that runs this program again: ``python [-W/-X options] -m <main module> args``.

    A program started as a console script (``soa``, ``my-service``) is re-run through its script.
    """
    argv = list(sys.argv if argv is None else argv)
    options = [f"-W{option}" for option in sys.warnoptions]
    options += [f"-X{key}" if value is True else f"-X{key}={value}" for key, value in sys._xoptions.items()]
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    target = ["-m", spec.name.removesuffix(".__main__")] if spec is not None else [argv[0]]
    wrapper = os.environ.get(WRAPPER_ENV)
    return [*([wrapper] if wrapper else []), sys.executable, *options, *target, *argv[1:]]


def run_reloader(command: Sequence[str], watcher: FileWatcher, interval: float = 1.0) -> int:
    """Run ``command`` as a child and restart it on every change ``watcher`` sees; see the module doc."""
    lifeline = Lifeline()
    env = {**os.environ, RUN_MAIN_ENV: "true", LIFELINE_ENV: str(lifeline.read_fd)}
    child: subprocess.Popen[bytes] | None = None
    stopping = False

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(list(command), env=env, pass_fds=(lifeline.read_fd,))
        logger.info("Reloader (pid %s) started the service (pid %s)", os.getpid(), process.pid)
        return process

    def on_signal(signal_number: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if signal_number != signal.SIGHUP:
            stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(
                signal.SIGHUP if signal_number == signal.SIGHUP else stop_signal_to_forward(signal_number)
            )

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        child = start()
        reloading = False
        while True:
            if child is not None:
                try:
                    code = child.wait(timeout=interval)
                except subprocess.TimeoutExpired:
                    code = None
                if code is not None:
                    if stopping:
                        return code
                    if reloading:
                        reloading = False
                        watcher.changed()  # changes made during the restart are in the new code already
                        child = start()
                        continue
                    logger.error("The service exited (status %s); waiting for a file change to start it again", code)
                    child = None
            elif stopping:
                return 0
            else:
                time.sleep(interval)
            changes = [] if stopping or reloading else watcher.changed()
            if changes:
                shown = ", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if len(changes) > 3 else "")
                logger.warning("File change detected (%s); reloading the service", shown)
                if child is None:
                    child = start()
                else:
                    reloading = True
                    child.send_signal(signal.SIGTERM)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if child is not None and child.poll() is None:
            child.terminate()  # only after an error here; the lifeline would tell it the same
        lifeline.close()
