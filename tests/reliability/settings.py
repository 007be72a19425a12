"""Settings of :mod:`tests.reliability.service`, from the environment each worker is given.

``RELIABILITY_TRANSPORT``: the server transport kwargs as JSON (``url`` or ``sentinel`` ...);
``RELIABILITY_GIVE_UP``: ``transport_outage_give_up_after_seconds`` (unset: never).
"""

from __future__ import annotations

import json
import os
from typing import Any

_give_up = os.environ.get("RELIABILITY_GIVE_UP")

SOA_SERVER_SETTINGS: dict[str, Any] = {
    "transport": {"name": "redis", "kwargs": json.loads(os.environ.get("RELIABILITY_TRANSPORT", "{}"))},
    "harakiri": {"timeout": 0, "shutdown_grace": 5},
    "transport_outage_give_up_after_seconds": float(_give_up) if _give_up else None,
    "logging": {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {"pysoa.server.job": {"level": "WARNING"}},
        "disable_existing_loggers": False,
    },
}
