"""Start the example service: ``python -m example_service.standalone -s example_service.settings``."""

from __future__ import annotations

from pysoa.server.standalone import simple_main


def main() -> None:
    from example_service.server import Server

    simple_main(lambda: Server)


if __name__ == "__main__":
    main()
