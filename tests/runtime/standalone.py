"""python -m tests.runtime.standalone -s tests.runtime.settings [-f N] [--use-file-watcher] ..."""

from __future__ import annotations

from pysoa.server.standalone import simple_main


def main() -> None:
    from tests.runtime.service import RuntimeServer

    simple_main(lambda: RuntimeServer)


if __name__ == "__main__":
    main()
