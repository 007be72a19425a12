"""Start the example service's worker processes over Redis.

    python -m example_service.standalone -s example_service.settings -f 2

``-f 2`` runs two workers under a supervisor (``call_service`` needs a second worker: the first is
busy making the call). ``REDIS_URL`` picks the Redis server (see :mod:`example_service.settings`).
Other options: ``--no-respawn``, ``--use-file-watcher`` (reload on source changes), ``-d`` (daemon).
The ``example-service`` console script is the same command.
"""

from __future__ import annotations

from pysoa.server.standalone import simple_main


def main() -> None:
    from example_service.server import Server

    simple_main(lambda: Server)


if __name__ == "__main__":
    main()
