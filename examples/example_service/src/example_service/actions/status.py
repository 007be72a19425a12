from __future__ import annotations

from collections.abc import Iterable

import example_service
from pysoa.server.action.status import BaseStatusAction, CheckMethodStatus
from pysoa.server.types import EnrichedActionRequest


class StatusAction(BaseStatusAction):
    _version = example_service.__version__

    def check_turboencabulator(self, request: EnrichedActionRequest) -> Iterable[CheckMethodStatus]:
        """A health check: warnings and errors end up in the status response."""
        self.diagnostics["turboencabulator"] = "prefabulated"
        return [CheckMethodStatus(False, "TURBOENCABULATOR_WARM", "The turboencabulator is running warm")]
