"""A server worker process for the contract suite: ``python -m tests.contract.worker CLASS_PATH SETTINGS_JSON``.

Prints ``READY`` once set up, then serves until SIGTERM.
"""

from __future__ import annotations

import json
import logging
import sys

from pysoa.common.settings import resolve_python_path


def main() -> None:
    server_class = resolve_python_path(sys.argv[1])
    settings = json.loads(sys.argv[2])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    class Worker(server_class):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            super().setup()
            print("READY", flush=True)

    Worker(settings).run()


if __name__ == "__main__":
    main()
