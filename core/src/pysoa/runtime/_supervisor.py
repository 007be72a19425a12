"""The forking supervisor: N worker processes, respawned when they die, stopped and restarted by signals.

The parent calls ``pre_fork()`` once, forks N workers (fork ids 1..N), and then only waits: on a
worker's exit (through the process sentinels), on a signal (through a wake-up pipe), or on its own
parent leaving (the reloader's lifeline). It stays single-threaded, so forking from it is safe.

* A worker that exits unexpectedly is respawned with the same fork id, unless it is crash-looping:
  :class:`RespawnPolicy` (PySOA's rule: 3 restarts within 15 s or 8 within 60 s) gives up on it,
  and the supervisor exits non-zero once every worker has been given up.
* ``SIGTERM``/``SIGINT``: every worker is asked to stop (:func:`stop_signal_to_forward` says with
  which signal) and finishes its current job; the supervisor exits when all are gone. A second,
  *different* signal within a second of the first is the terminal's Ctrl+C plus a process
  manager's forwarded TERM and is ignored; any other second signal kills the workers at once.
* ``SIGHUP``: a rolling restart, one worker at a time: the next worker is stopped only once the
  previous one has exited and its replacement has been started.
* A worker that exits with :data:`~pysoa.server._exit_status.EXIT_CONFIGURATION_ERROR` found the
  configuration unusable at start-up: it is not respawned (that cannot help), the other workers are
  stopped, and the supervisor exits with that status too.
* Workers watch a :class:`~pysoa.runtime._lifeline.Lifeline`, so they stop if the parent is killed.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TYPE_CHECKING

from pysoa.runtime._lifeline import Lifeline, parent_is_gone, watch_in_thread
from pysoa.server._exit_status import EXIT_CONFIGURATION_ERROR

if TYPE_CHECKING:
    from pysoa.server.server import Server

__all__ = ["RespawnPolicy", "Supervisor", "describe_exit", "effective_worker_count", "stop_signal_to_forward"]

logger = logging.getLogger("pysoa.server.supervisor")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Ctrl+C reaches the whole process group while a process manager forwards TERM: one request to stop.
_DUPLICATE_SIGNAL_WINDOW = 1.0


def effective_worker_count(requested: int, cpu_count: int | None) -> int:
    """``requested``, capped at 5 workers per CPU (with a warning): more only adds context switches."""
    cap = 5 * (cpu_count or 1)
    if requested > cap:
        logger.warning(
            "Asked for %s worker processes, but this machine has %s CPUs; starting %s (5 per CPU)",
            requested,
            cpu_count or 1,
            cap,
        )
        return cap
    return requested


@dataclass(frozen=True)
class RespawnPolicy:
    """When to stop respawning a crash-looping worker: ``limits`` are ``(restarts, within_seconds)`` pairs."""

    limits: tuple[tuple[int, float], ...] = ((3, 15.0), (8, 60.0))

    def exceeded(self, restarts: Sequence[float], now: float) -> tuple[int, float] | None:
        """The limit that one more restart at ``now`` would break, or ``None`` if it may restart."""
        for count, window in self.limits:
            if sum(1 for started in restarts if now - started < window) >= count:
                return count, window
        return None


def describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "is still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name}"
    return f"exited with status {exitcode}"


@dataclass
class _Slot:
    """One fork id and the process currently holding it."""

    fid: int
    process: BaseProcess | None = None
    restarts: list[float] = field(default_factory=list)
    given_up: bool = False
    restarting: bool = False  # stopped on purpose by a rolling restart: replace it, do not count it


class Supervisor:
    """Runs ``server_class.main(forked_process_id=i)`` in ``workers`` forked processes; see the module doc.

    ``worker_argv`` becomes each worker's ``sys.argv`` (``Server.main`` parses its options from it).
    ``heartbeat_file`` is the server's heartbeat setting, used to remove the file of a worker that
    died without removing it itself. ``parent_lifeline_fd`` is the read end of a lifeline from a
    process above this one (the reloader): the supervisor stops its workers when that parent goes.
    """

    def __init__(
        self,
        server_class: type[Server],
        workers: int,
        *,
        respawn: bool = True,
        worker_argv: Sequence[str] | None = None,
        heartbeat_file: str | None = None,
        parent_lifeline_fd: int | None = None,
        policy: RespawnPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1:
            raise ValueError("A supervisor needs at least one worker")
        self.server_class = server_class
        self.respawn = respawn
        self.worker_argv = list(worker_argv if worker_argv is not None else sys.argv)
        self.heartbeat_file = heartbeat_file
        self.parent_lifeline_fd = parent_lifeline_fd
        self.policy = policy or RespawnPolicy()
        self.clock = clock
        self.slots = [_Slot(fid) for fid in range(1, effective_worker_count(workers, os.cpu_count()) + 1)]
        self._context = multiprocessing.get_context("fork")
        self._pending_signals: list[int] = []
        self._stopping = False
        self._stop_signal: int | None = None
        self._stop_time = 0.0
        self._restart_queue: list[int] = []
        self._failed = False
        self._forced = False
        self._misconfigured = False
        self._lifeline: Lifeline | None = None
        self._wake_r = -1
        self._wake_w = -1

    # --- running ----------------------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until stopped; returns the exit status (0 after a requested stop)."""
        self._lifeline = Lifeline()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        previous_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        previous_handlers = {number: signal.signal(number, self._on_signal) for number in _HANDLED_SIGNALS}
        try:
            logger.info(
                "Supervisor (pid %s) starting %s workers of service %r",
                os.getpid(),
                len(self.slots),
                self.server_class.service_name,
            )
            self.server_class.pre_fork()
            for slot in self.slots:
                self._spawn(slot)
            return self._loop()
        finally:
            self._kill_remaining()
            signal.set_wakeup_fd(previous_wakeup)
            for number, handler in previous_handlers.items():
                signal.signal(number, handler)
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)
            self._lifeline.close()

    def _loop(self) -> int:
        while True:
            self._handle_signals()
            for slot in self.slots:
                if slot.process is not None and slot.process.exitcode is not None:
                    self._on_exit(slot)
            self._advance_rolling_restart()
            if not any(slot.process is not None for slot in self.slots):
                return self._final_status()
            waitables: list[int] = [slot.process.sentinel for slot in self.slots if slot.process is not None]
            waitables.append(self._wake_r)
            if self.parent_lifeline_fd is not None:
                waitables.append(self.parent_lifeline_fd)
            ready = multiprocessing.connection.wait(waitables)
            if self._wake_r in ready:
                self._drain_wakeup_pipe()
            lifeline = self.parent_lifeline_fd
            if lifeline is not None and lifeline in ready and parent_is_gone(lifeline):
                logger.warning("The reloader process is gone; stopping the workers")
                self.parent_lifeline_fd = None
                self._pending_signals.append(signal.SIGTERM)

    def _final_status(self) -> int:
        if self._misconfigured:
            logger.error("The service cannot start as configured (see the workers' log); supervisor exiting")
            return EXIT_CONFIGURATION_ERROR
        if self._stopping:
            logger.info("All workers stopped; supervisor exiting")
            return 1 if self._forced else 0
        if self._failed:
            logger.error("Every worker has exited and none will be re-spawned; supervisor exiting")
            return 1
        logger.info("Every worker has exited; supervisor exiting")
        return 0

    # --- workers --------------------------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        assert self._lifeline is not None
        close_in_child = [self._lifeline.write_fd, self._wake_r, self._wake_w]
        process = self._context.Process(
            target=_worker_main,
            args=(self.server_class, slot.fid, self.worker_argv, self._lifeline.read_fd, close_in_child),
            name=f"pysoa-worker-{slot.fid}",
        )
        # Signals stay blocked across the fork: the child must not run this parent's handlers.
        with _signals_blocked():
            process.start()
        slot.process = process
        logger.info("Started worker #%s (pid %s)", slot.fid, process.pid)

    def _on_exit(self, slot: _Slot) -> None:
        process = slot.process
        assert process is not None
        pid, exitcode = process.pid, process.exitcode
        process.join()
        process.close()
        slot.process = None
        self._remove_heartbeat_file(slot.fid, pid)
        if self._stopping:
            logger.info("Worker #%s (pid %s) %s", slot.fid, pid, describe_exit(exitcode))
            return
        if slot.restarting:
            slot.restarting = False
            logger.info("Worker #%s (pid %s) stopped for the restart; starting its replacement", slot.fid, pid)
            self._replace(slot)
            return
        if exitcode == EXIT_CONFIGURATION_ERROR:
            # Every worker runs with the same settings: respawning any of them would only fail again.
            logger.error(
                "Worker #%s (pid %s) found the configuration unusable at start-up; not re-spawning it, "
                "stopping the service",
                slot.fid,
                pid,
            )
            slot.given_up = True
            self._misconfigured = True
            self._stop_workers(signal.SIGTERM)
            return
        logger.warning("Worker #%s (pid %s) %s unexpectedly", slot.fid, pid, describe_exit(exitcode))
        if exitcode != 0:
            self._failed = True
        if not self.respawn:
            logger.warning("Not re-spawning worker #%s (respawn is off)", slot.fid)
            return
        now = self.clock()
        limit = self.policy.exceeded(slot.restarts, now)
        if limit is not None:
            slot.given_up = True
            self._failed = True
            logger.error(
                "Worker #%s is crash-looping (%s restarts within %s seconds); giving up on it",
                slot.fid,
                limit[0],
                f"{limit[1]:g}",
            )
            if all(s.given_up for s in self.slots):
                logger.error("All workers are crash-looping; the service is down")
            return
        slot.restarts.append(now)
        logger.warning("Re-spawning failed worker #%s", slot.fid)
        self._replace(slot)

    def _replace(self, slot: _Slot) -> None:
        try:
            self._spawn(slot)
        except OSError as exc:  # out of processes or memory: keep serving with the workers there are
            slot.given_up = True
            self._failed = True
            logger.error("Could not start a new worker #%s (%s); giving up on it", slot.fid, exc)

    def _remove_heartbeat_file(self, fid: int, pid: int | None) -> None:
        # A worker removes its own file at a clean exit; after SIGKILL or os._exit it is left behind.
        if not self.heartbeat_file:
            return
        path = self.heartbeat_file.replace("{{fid}}", str(fid)).replace("{{pid}}", str(pid))
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("Could not remove the heartbeat file %s of worker #%s: %s", path, fid, exc)

    def _kill_remaining(self) -> None:
        """Only reached with live workers when the supervisor itself failed: never leave them behind."""
        for slot in self.slots:
            if slot.process is not None and slot.process.exitcode is None:
                _send(slot.process, signal.SIGKILL)
                slot.process.join()

    # --- signals ---------------------------------------------------------------------------------------

    def _on_signal(self, signal_number: int, _frame: FrameType | None) -> None:
        # Only record it: the loop acts on it (the wake-up pipe interrupts its wait).
        self._pending_signals.append(signal_number)

    def _drain_wakeup_pipe(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _handle_signals(self) -> None:
        while self._pending_signals:
            signal_number = self._pending_signals.pop(0)
            if signal_number in _STOP_SIGNALS:
                self._on_stop_signal(signal_number)
            elif signal_number == signal.SIGHUP and not self._stopping:
                self._restart_queue = [slot.fid for slot in self.slots if slot.process and not slot.restarting]
                logger.warning("Received SIGHUP; restarting %s workers one at a time", len(self._restart_queue))

    def _stop_workers(self, signal_number: int) -> int:
        """Enter the stopping state and ask every live worker to stop; returns how many were asked."""
        self._stopping = True
        self._stop_signal = signal_number
        self._restart_queue = []
        alive = [slot.process for slot in self.slots if slot.process is not None]
        for process in alive:
            _send(process, stop_signal_to_forward(signal_number))
        return len(alive)

    def _on_stop_signal(self, signal_number: int) -> None:
        now = self.clock()
        name = signal.Signals(signal_number).name
        if not self._stopping:
            self._stop_time = now
            alive = self._stop_workers(signal_number)
            logger.warning("Received %s; stopping %s workers after their current jobs", name, alive)
            return
        if signal_number != self._stop_signal and now - self._stop_time < _DUPLICATE_SIGNAL_WINDOW:
            return
        logger.warning("Received a second shutdown signal (%s); killing the workers now", name)
        self._forced = True  # jobs in hand were lost: not a clean stop
        for slot in self.slots:
            if slot.process is not None:
                _send(slot.process, signal.SIGKILL)

    def _advance_rolling_restart(self) -> None:
        if self._stopping or any(slot.restarting for slot in self.slots):
            return
        while self._restart_queue:
            slot = self.slots[self._restart_queue.pop(0) - 1]
            if slot.process is not None and slot.process.exitcode is None:
                logger.info("Restarting worker #%s (pid %s)", slot.fid, slot.process.pid)
                slot.restarting = True
                _send(slot.process, signal.SIGTERM)
                return


def stop_signal_to_forward(received: int) -> int:
    """The stop signal to pass on to children: the *other* one of SIGINT and SIGTERM.

    A child may have received the same signal already: Ctrl+C reaches the whole process group, and
    so does systemd's default ``KillMode=control-group``. A server takes a second stop signal as
    "exit now" unless it is a *different* signal within a second of the first, so passing on the
    other signal keeps every one of these cases a graceful stop.
    """
    return signal.SIGTERM if received == signal.SIGINT else signal.SIGINT


def _send(process: BaseProcess, signal_number: int) -> None:
    if process.pid is None:
        return
    try:
        os.kill(process.pid, signal_number)
    except OSError as exc:
        if exc.errno != errno.ESRCH:  # already gone: its exit is handled by the loop
            raise


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _worker_main(
    server_class: type[Server], fid: int, argv: Sequence[str], lifeline_fd: int, close_fds: Sequence[int]
) -> None:
    """The body of a forked worker: undo the parent's signal set-up, watch the parent, run the server."""
    signal.set_wakeup_fd(-1)
    for number in _STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)  # until Server.run installs its graceful handlers
    # A terminal hang-up or `kill -HUP <process group>` is the supervisor's business (a rolling restart).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HANDLED_SIGNALS)
    watch_in_thread(lifeline_fd, close_fds)
    sys.argv = list(argv)
    server_class.main(forked_process_id=fid)
