"""PySOA's ``get_reloader(...).main(func)`` (served as ``pysoa.server.autoreload``): restarts a program on changes.

Served by soa-core's reloader (the one behind ``--use-file-watcher``): the program is run again as a child process,
the watched source files are polled once a second, and on a change the child is stopped with ``SIGTERM`` and a
fresh one started. Usage, as with PySOA::

    get_reloader("my_service.standalone", ["my_service"]).main(run_service, args, kwargs)
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pysoa.runtime import _reloader
from pysoa.runtime._lifeline import watch_in_thread

__all__ = ["Reloader", "get_reloader"]


class Reloader:
    """Runs a main function under the file-watching reloader (see :func:`get_reloader`)."""

    def __init__(self, watch_modules: Iterable[str] | None) -> None:
        self.watch_modules = None if watch_modules is None else list(watch_modules)

    def main(
        self,
        func: Callable[..., Any],
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """In the reloader's child, call ``func(*args, **kwargs)``; otherwise become the reloader and exit with the
        last child's status when stopped (``SIGINT``/``SIGTERM``)."""
        if _reloader.is_reloader_child():
            lifeline_fd = _reloader.parent_lifeline_fd()
            if lifeline_fd is not None:
                watch_in_thread(lifeline_fd)  # the child stops if the reloader is killed
            func(*(args or ()), **(kwargs or {}))
            return
        watcher = _reloader.FileWatcher(self.watch_modules)
        sys.exit(_reloader.run_reloader(_reloader.child_command(), watcher))


def get_reloader(
    main_module_name: str | None, watch_modules: Iterable[str] | None, signal_forks: bool = False
) -> Reloader:
    """A reloader watching ``watch_modules`` (packages or modules, with everything under them), or every loaded
    module when ``None``.

    ``main_module_name`` and ``signal_forks`` are accepted for PySOA's signature: the command run again is found
    from the running program (``-m`` module or script, with the interpreter's options), and stop and ``SIGHUP``
    signals always reach forked workers through soa-core's supervisor.
    """
    return Reloader(watch_modules)
