"""A pipe that tells a child process its parent is gone, so that no worker outlives its supervisor.

The parent creates a :class:`Lifeline` before starting children and keeps its write end open for
as long as it lives. Children never write to it; they only hold the read end. When the parent
exits for any reason, ``SIGKILL`` included, the kernel closes its write end and a read in the
child returns end-of-file. The child then sends itself ``SIGTERM``, so a worker stops the way it
stops for a supervisor: the job in hand finishes (bounded by harakiri), nothing new is taken.

Why a pipe rather than Linux's ``prctl(PR_SET_PDEATHSIG)``: the pipe works on every POSIX system
(macOS developers run services too), needs no ``ctypes`` call into libc, survives ``exec`` (the
reloader re-executes the service as a new program), and is race-free: the pipe exists before the
fork, so a parent that dies before the child starts watching is still noticed. PDEATHSIG also
fires when the *thread* that forked exits, not the process, which is a trap of its own.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable

__all__ = ["Lifeline", "parent_is_gone", "watch_in_thread"]


class Lifeline:
    """One pipe per parent. ``read_fd`` goes to children; ``write_fd`` stays open in the parent only."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def parent_is_gone(read_fd: int) -> bool:
    """Whether the parent has exited: the read end is at end-of-file (call when it is readable)."""
    try:
        return os.read(read_fd, 1) == b""
    except BlockingIOError:
        return False


def watch_in_thread(read_fd: int, close_fds: Iterable[int] = ()) -> threading.Thread:
    """In a child: send ``SIGTERM`` to this process when the parent behind ``read_fd`` exits.

    ``close_fds`` are the write ends this child inherited through ``fork``; they must be closed
    here, or the child itself would keep the pipe open and never see the end-of-file.
    """
    for fd in close_fds:
        try:
            os.close(fd)
        except OSError:
            pass

    def watch() -> None:
        while True:
            try:
                if os.read(read_fd, 1) == b"":
                    break
            except InterruptedError:
                continue
            except OSError:
                return  # the descriptor is gone: nothing left to watch
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="pysoa-lifeline", daemon=True)
    thread.start()
    return thread
