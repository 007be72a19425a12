"""How a worker rides out a transport outage: capped, jittered retries, one log line per outage."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Final

__all__ = ["OUTAGE_BACKOFF_CAP_SECONDS", "TransportOutage"]

# Retries never wait longer than this, so a worker serves again soon after its transport returns.
OUTAGE_BACKOFF_CAP_SECONDS: Final = 1.0
_FIRST_BACKOFF_SECONDS: Final = 0.1


class TransportOutage:
    """The state of one worker's transport: healthy, or failing since some moment.

    :meth:`failed` is called after each transient transport failure and says how long to wait
    before the next try (``None``: give up, only once ``give_up_after`` seconds of failures have
    passed); :meth:`recovered` after each success. The first failure of an outage logs a warning,
    the first success after one logs its end; the failures in between are only counted.
    """

    def __init__(
        self,
        logger: logging.Logger,
        give_up_after: float | None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._logger = logger
        self._give_up_after = give_up_after
        self._clock = clock
        self._rand = rand
        self._since: float | None = None
        self._failures = 0

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> float | None:
        now = self._clock()
        if self._since is None:
            self._since = now
            self._failures = 0
            self._logger.warning("Transport outage: %s; retrying until it is back", error)
        self._failures += 1
        if self._give_up_after is not None and now - self._since >= self._give_up_after:
            self._logger.error(
                "Transport still failing after %.1f s (%d attempts), giving up "
                "(transport_outage_give_up_after_seconds=%s): %s",
                now - self._since,
                self._failures,
                self._give_up_after,
                error,
            )
            return None
        # Full jitter: workers that lost the same Redis do not all come back in step.
        ceiling = min(OUTAGE_BACKOFF_CAP_SECONDS, _FIRST_BACKOFF_SECONDS * float(2 ** min(self._failures, 10)))
        return ceiling / 2 + self._rand() * ceiling / 2

    def recovered(self) -> None:
        if self._since is None:
            return
        self._logger.warning(
            "Transport outage over after %.1f s (%d failed attempts)", self._clock() - self._since, self._failures
        )
        self._since = None
