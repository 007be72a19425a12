"""A server process for the contract suite: ``python -m pysoa.test.contract.worker CLASS_PATH SETTINGS_JSON``.

Builds the server class at ``CLASS_PATH`` (``package.module:Class``) with the server settings in
``SETTINGS_JSON``, prints ``READY`` on standard output once it is set up (so a test waits on that,
never on a sleep), then serves until ``SIGTERM``. :class:`~pysoa.test.contract.ServerProcesses`
starts these.
"""

from __future__ import annotations

import json
import logging
import sys

from pysoa.common.settings import resolve_python_path
from pysoa.server.server import Server

__all__ = ["main"]

READY = "READY"


def main(argv: list[str] | None = None) -> None:
    class_path, settings_json = (sys.argv[1:] if argv is None else argv)[:2]
    server_class = resolve_python_path(class_path)
    if not (isinstance(server_class, type) and issubclass(server_class, Server)):
        raise SystemExit(f"{class_path} is not a pysoa Server subclass")
    settings = json.loads(settings_json)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    class Worker(server_class):  # type: ignore[valid-type, misc]  # a subclass of the class given at run time
        def setup(self) -> None:
            super().setup()
            print(READY, flush=True)

    Worker(settings).run()


if __name__ == "__main__":
    main()
