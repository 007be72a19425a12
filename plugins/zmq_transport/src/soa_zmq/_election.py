"""Which process is a service's router: an exclusive ``flock`` on the router's lock file.

The router holds the lock for its whole life; the kernel releases it when the router exits, however
it exits (kill -9 included). A worker in ``auto`` role that finds the lock free starts a router.
Unix only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

__all__ = ["RouterLock", "router_is_running"]


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def router_is_running(lock_file: str) -> bool:
    """Whether some process holds the router lock. Holds the lock itself only for an instant."""
    fd = _open(lock_file)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class RouterLock:
    """The lock a running router holds; its file names the router's pid."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, patience: float = 0.5) -> bool:
        """Take the lock, retrying for ``patience`` seconds: a worker's check holds it for an instant."""
        fd = _open(self.path)
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
            if time.monotonic() >= deadline:
                os.close(fd)
                return False
            time.sleep(0.01)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None

    @staticmethod
    def holder_pid(path: str) -> int | None:
        """The pid the lock file names (the running router's, if one runs)."""
        try:
            with open(path) as file:
                text = file.read().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None
