"""Entry points for service modules: ``simple_main(lambda: Server)`` and ``django_main(...)``.

A service's ``standalone.py`` calls one of these. Run it as a module (``python -m
my_service.standalone``) or through a console script, never as ``python path/to/standalone.py``:
that imports the service module twice (once as ``__main__``), which breaks class identity.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pysoa.server.server import Server

__all__ = ["django_main", "simple_main"]


def _check_not_run_as_script() -> None:
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    main_file = getattr(main_module, "__file__", "") or ""
    if spec is None and os.path.basename(main_file) == "standalone.py":
        sys.stderr.write(
            "ERROR: this service module was started as a script, which imports it twice. Start it with\n"
            "    python -m <package>.standalone ...\nor through its console script.\n"
        )
        sys.exit(99)


def simple_main(get_server_class: Callable[[], type[Server]]) -> None:
    """Run the server class's ``main()`` (``-s/--settings MODULE``)."""
    _check_not_run_as_script()
    get_server_class().main()


def django_main(get_server_class: Callable[[], type[Server]], settings_module: str | None = None) -> None:
    """Like :func:`simple_main`, after setting up Django (``-s`` names the Django settings module)."""
    _check_not_run_as_script()
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-s", "--settings")
    args, _ = parser.parse_known_args()
    module = args.settings or settings_module or os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        sys.stderr.write("ERROR: give the Django settings module with -s/--settings or DJANGO_SETTINGS_MODULE\n")
        sys.exit(2)
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    import django

    django.setup()
    get_server_class().main()
