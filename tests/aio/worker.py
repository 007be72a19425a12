"""A real worker process of tests.aio.services.AsyncService over Redis: ``python -m tests.aio.worker URL SLOTS``.

``SLOTS`` is ``async_jobs_per_worker`` (``none`` leaves it unset). Its own actions' ``request.client``
routes back to this service over the same Redis, so self-calls go through the queue.
"""

from __future__ import annotations

import sys
from typing import Any

from tests.aio.services import AsyncService


def settings(url: str, slots: int | None) -> dict[str, Any]:
    transport = {"name": "redis", "kwargs": {"url": url, "receive_timeout_in_seconds": 0.2}}
    return {
        "transport": transport,
        "client_routing": {"async_service": {"transport": transport}},
        "async_jobs_per_worker": slots,
        "harakiri": {"timeout": 30, "shutdown_grace": 5},
        "logging": {"version": 1, "root": {"level": "WARNING"}, "disable_existing_loggers": False},
    }


def main() -> None:
    url, raw_slots = sys.argv[1], sys.argv[2]
    server = AsyncService(settings(url, None if raw_slots == "none" else int(raw_slots)))
    server.run()
    sys.exit(server.exit_status)


if __name__ == "__main__":
    main()
