"""The heartbeat file: a health check for supervisors that cannot call the service."""

from __future__ import annotations

import os
import time

__all__ = ["HeartbeatFile"]

# Rewriting the file more often than this only costs I/O; supervisors check it every few seconds.
_MIN_INTERVAL = 2.5


class HeartbeatFile:
    """Holds ``time.time()`` as text, refreshed after requests and idle cycles, removed at shutdown."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._last_beat = 0.0

    @classmethod
    def from_setting(cls, setting: str | None, forked_process_id: int | None) -> HeartbeatFile | None:
        if not setting:
            return None
        path = setting.replace("{{pid}}", str(os.getpid()))
        if forked_process_id is not None:
            path = path.replace("{{fid}}", str(forked_process_id))
        return cls(path)

    def create(self) -> None:
        self._write(time.time())

    def beat(self) -> None:
        now = time.time()
        if now - self._last_beat >= _MIN_INTERVAL:
            self._write(now)

    def delete(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _write(self, now: float) -> None:
        # Write then rename, so a reader never sees a half-written file.
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w") as f:
            f.write(str(now))
        os.replace(temporary, self.path)
        self._last_beat = now
