"""The router of one service: clients connect to its frontend, workers to its backend.

The router hands each request to the worker that has been idle longest (a least-recently-used
queue of idle workers). It reads the frontend only while some worker is idle, so when every
worker is busy new requests wait in ZeroMQ's bounded queues (the high-water marks) and, once
those are full, a client's send blocks and fails at its deadline. Requests whose expiry passed
while they waited are dropped unread by anyone.

Workers announce themselves with READY and, while idle, HEARTBEAT; a response also means "idle
again". An idle worker silent for ``heartbeat_interval * heartbeat_liveness`` is forgotten; a
worker whose connection dropped is skipped at dispatch (ROUTER_MANDATORY reports it gone). A busy
worker is not expected to speak: if it dies, only its own caller loses its response (and times
out); its record is forgotten once that request's expiry has passed. A worker leaving gracefully
says DISCONNECT, hands back (BOUNCE) any request that reached it meanwhile, and waits for BYE.

Leases: a worker that answers with a lease offer says LEASED right after its response; it is then
*leased* (serving one client directly, never given queued requests) until it says READY, which
it does within one heartbeat interval (a lease lasts no longer); a leased worker silent for
longer than the heartbeat timeout is forgotten like an idle one. When requests wait and no
worker is idle, the router sends REVOKE to every leased worker, which then ends its lease (READY)
as soon as it is free. A worker that can offer leases says LEASES; the router answers LEASES
("this router understands leases"), and only then does the worker offer any.

The router executes no service code, so a worker's crash never takes it down. It runs in its own
process: started by the first worker in ``auto`` role (see :func:`spawn_router`), by a supervisor,
or by hand (``soa-zmq-router -s SETTINGS_MODULE``). Exactly one router runs per service endpoint:
it holds an exclusive lock on its lock file for its whole life.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

import zmq
from zmq import zmq_poll
from zmq.utils.monitor import recv_monitor_message

from pysoa.common.log_limit import RateLimitedLogger
from pysoa.errors import ConfigurationError
from soa_zmq._curve import BACKEND_ZAP_DOMAIN, FRONTEND_ZAP_DOMAIN, make_curve_server, start_authenticator
from soa_zmq._election import RouterLock
from soa_zmq._protocol import (
    BOUNCE,
    BYE,
    DISCONNECT,
    FIXED_SIZE,
    HEARTBEAT,
    LEASED,
    LEASES,
    MAGIC,
    READY,
    REQUEST,
    RESPONSE,
    REVOKE,
    VERSION,
    control_header,
    expires_at_of,
)
from soa_zmq._sockets import (
    NOBLOCK,
    apply_common_options,
    bind,
    open_socket,
    recv_frames,
    remove_ipc_file,
    send_frames,
)

__all__ = ["Router", "RouterConfig", "main", "spawn_router", "stop_router"]

_logger = logging.getLogger("soa_zmq.router")
_handshake_log = RateLimitedLogger(_logger)
_HANDSHAKE_FAILURES = (
    zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)

# The longest the loop sleeps, so that stop() and signals take effect promptly.
_MAX_POLL_MS = 100
_EXIT_ALREADY_RUNNING = 3
_POLLIN = int(zmq.POLLIN)
# The first four bytes of a well-formed request and response header (magic, version, kind).
_REQUEST_PREFIX = MAGIC + bytes((VERSION, REQUEST))
_RESPONSE_PREFIX = MAGIC + bytes((VERSION, RESPONSE))


@dataclass(frozen=True)
class RouterConfig:
    """What a router needs; built from the service's server transport settings."""

    endpoint: str
    backend_endpoint: str
    lock_file: str
    maximum_message_size_in_bytes: int
    send_high_water_mark: int
    receive_high_water_mark: int
    heartbeat_interval_in_seconds: float
    heartbeat_liveness: int
    idle_exit_in_seconds: float | None = None
    log_file: str | None = None
    curve_public_key: bytes | None = None
    curve_secret_key: bytes | None = None
    # None: any client key that completes the CURVE handshake (encryption without authentication)
    curve_allowed_client_keys: frozenset[bytes] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouterConfig:
        curve = data.get("curve")
        allowed = curve.get("allowed_client_keys") if curve else None
        return cls(
            endpoint=data["endpoint"],
            backend_endpoint=data["backend_endpoint"],
            lock_file=data["lock_file"],
            maximum_message_size_in_bytes=int(data["maximum_message_size_in_bytes"]),
            send_high_water_mark=int(data["send_high_water_mark"]),
            receive_high_water_mark=int(data["receive_high_water_mark"]),
            heartbeat_interval_in_seconds=float(data["heartbeat_interval_in_seconds"]),
            heartbeat_liveness=int(data["heartbeat_liveness"]),
            idle_exit_in_seconds=data.get("idle_exit_in_seconds"),
            log_file=data.get("log_file"),
            curve_public_key=curve["public_key"].encode() if curve else None,
            curve_secret_key=curve["secret_key"].encode() if curve else None,
            curve_allowed_client_keys=None if allowed is None else frozenset(k.encode() for k in allowed),
        )

    @classmethod
    def from_transport_settings(cls, kwargs: Mapping[str, Any]) -> RouterConfig:
        """From the ``kwargs`` of the service's ``zmq`` server transport settings."""
        from soa_zmq._settings import SERVER_SETTINGS_SCHEMA, server_options

        errors = SERVER_SETTINGS_SCHEMA.errors(dict(kwargs))
        if errors:
            raise ConfigurationError("; ".join(f"{e.pointer or 'kwargs'}: {e.message}" for e in errors))
        return server_options(kwargs).router_config()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able data that :meth:`from_dict` reads back."""
        curve = None
        if self.curve_secret_key is not None:
            allowed = self.curve_allowed_client_keys
            curve = {
                "public_key": (self.curve_public_key or b"").decode(),
                "secret_key": self.curve_secret_key.decode(),
                "allowed_client_keys": None if allowed is None else sorted(k.decode() for k in allowed),
            }
        return {
            "endpoint": self.endpoint,
            "backend_endpoint": self.backend_endpoint,
            "lock_file": self.lock_file,
            "maximum_message_size_in_bytes": self.maximum_message_size_in_bytes,
            "send_high_water_mark": self.send_high_water_mark,
            "receive_high_water_mark": self.receive_high_water_mark,
            "heartbeat_interval_in_seconds": self.heartbeat_interval_in_seconds,
            "heartbeat_liveness": self.heartbeat_liveness,
            "idle_exit_in_seconds": self.idle_exit_in_seconds,
            "log_file": self.log_file,
            "curve": curve,
        }

    @property
    def heartbeat_timeout_in_seconds(self) -> float:
        return self.heartbeat_interval_in_seconds * self.heartbeat_liveness


class Router:
    """One service's least-recently-used router. ``bind()``, then ``run()`` until ``stop()``.

    Not thread-safe, except :meth:`stop`. Owns its sockets; uses ``context`` (a new one by default).
    """

    def __init__(self, config: RouterConfig, context: zmq.Context[Any] | None = None) -> None:
        self.config = config
        self._own_context = context is None
        self.context: zmq.Context[Any] = context if context is not None else zmq.Context(io_threads=1)
        self.frontend: zmq.Socket[Any] | None = None
        self.backend: zmq.Socket[Any] | None = None
        self._authenticator: Any = None
        # With CURVE: the backend's failed handshakes (a worker with the wrong keys), to log them.
        self._backend_monitor: zmq.Socket[Any] | None = None
        self._bound: list[str] = []
        self._stopping = False
        # idle workers, least recently used first: identity -> when last heard from (monotonic)
        self.ready: OrderedDict[bytes, float] = OrderedDict()
        # busy workers: identity -> wall-clock time after which the record is forgotten
        self.busy: dict[bytes, float] = {}
        # leased workers (serving one client directly): identity -> when last heard from (monotonic)
        self.leased: dict[bytes, float] = {}
        # the leased workers not yet asked to end their lease
        self.revocable: set[bytes] = set()
        # requests handed back by departing workers, to dispatch before reading new ones
        self.pending: deque[list[bytes]] = deque()
        self.stats: dict[str, int] = {
            "dispatched": 0,
            "leases": 0,
            "revokes": 0,
            "expired": 0,
            "malformed": 0,
            "undeliverable_responses": 0,
            "workers_lost": 0,
            "worker_handshake_failures": 0,
        }
        self._bye = control_header(BYE)
        self._leases = control_header(LEASES)
        self._revoke = control_header(REVOKE)
        # A busy worker's record outlives its request's expiry by this much (then it is forgotten).
        self._busy_grace = config.heartbeat_timeout_in_seconds
        # The monotonic clock at the loop's latest wake-up.
        self._now = time.monotonic()

    # --- set-up -------------------------------------------------------------------------------------

    def bind(self) -> None:
        """Open and bind both sockets. Raises :class:`ConfigurationError` naming the endpoint on failure."""
        config = self.config
        try:
            if config.curve_secret_key is not None:
                self._authenticator = start_authenticator(
                    self.context,
                    {
                        FRONTEND_ZAP_DOMAIN: config.curve_allowed_client_keys,
                        # Workers authenticate with the service's own key pair.
                        BACKEND_ZAP_DOMAIN: frozenset({config.curve_public_key or b""}),
                    },
                )
            self.frontend = self._socket(FRONTEND_ZAP_DOMAIN, zmtp_heartbeats=False)
            self.backend = self._socket(BACKEND_ZAP_DOMAIN, zmtp_heartbeats=True)
            for sock in (self.frontend, self.backend):
                # Report a vanished peer instead of silently dropping what is sent to it, and let a
                # peer that reconnects with its old identity take its old place.
                sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
                sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
            bind(self.frontend, config.endpoint)
            self._bound.append(config.endpoint)
            bind(self.backend, config.backend_endpoint)
            self._bound.append(config.backend_endpoint)
            if config.curve_secret_key is not None:
                self._backend_monitor = self._monitor_handshake_failures(self.backend)
        except BaseException:
            self.close()
            raise
        _logger.info("Router listening on %s, workers on %s", config.endpoint, config.backend_endpoint)

    def _socket(self, zap_domain: str, zmtp_heartbeats: bool) -> zmq.Socket[Any]:
        config = self.config
        sock = open_socket(self.context, zmq.ROUTER)
        apply_common_options(
            sock,
            maximum_message_size_in_bytes=config.maximum_message_size_in_bytes,
            send_high_water_mark=config.send_high_water_mark,
            receive_high_water_mark=config.receive_high_water_mark,
            heartbeat_interval_in_seconds=config.heartbeat_interval_in_seconds,
            heartbeat_timeout_in_seconds=config.heartbeat_timeout_in_seconds,
            linger_ms=200,
            zmtp_heartbeats=zmtp_heartbeats,
        )
        if config.curve_secret_key is not None:
            make_curve_server(sock, config.curve_secret_key, zap_domain)
        return sock

    def _monitor_handshake_failures(self, sock: zmq.Socket[Any]) -> zmq.Socket[Any]:
        address = f"inproc://soa-zmq-router-monitor-{os.getpid()}-{id(sock):x}"
        sock.monitor(address, _HANDSHAKE_FAILURES)
        monitor: zmq.Socket[Any] = self.context.socket(zmq.PAIR)
        monitor.connect(address)
        return monitor

    def _log_handshake_failures(self, monitor: zmq.Socket[Any]) -> None:
        """A worker that fails the backend's CURVE handshake gets no work; say so (rate-limited)."""
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            self.stats["worker_handshake_failures"] += 1
            _handshake_log.warning(
                "A worker failed the CURVE handshake on %s (event %s): it gets no work; "
                "workers must use the service's curve_public_key and curve_secret_key",
                self.config.backend_endpoint,
                event["event"],
            )

    def close(self) -> None:
        if self._backend_monitor is not None:
            if self.backend is not None:
                self.backend.disable_monitor()
            self._backend_monitor.close(linger=0)
            self._backend_monitor = None
        for sock in (self.frontend, self.backend):
            if sock is not None:
                sock.close()
        self.frontend = self.backend = None
        for endpoint in self._bound:
            remove_ipc_file(endpoint)
        self._bound.clear()
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None
        if self._own_context:
            self.context.term()

    def stop(self) -> None:
        """Make :meth:`run` return soon (safe from any thread or a signal handler)."""
        self._stopping = True

    # --- the loop -------------------------------------------------------------------------------------

    def run(self) -> None:
        """Route until :meth:`stop` (or, with ``idle_exit_in_seconds``, until no worker was seen that long)."""
        if self.frontend is None or self.backend is None:
            raise RuntimeError("Router.bind() first")
        frontend, backend = self.frontend, self.backend
        # zmq_poll itself, on item lists built once: zmq.Poller rebuilds its list and wraps the call.
        both: list[tuple[Any, int]] = [(backend, _POLLIN), (frontend, _POLLIN)]
        backend_only: list[tuple[Any, int]] = [(backend, _POLLIN)]
        monitor = self._backend_monitor
        if monitor is not None:
            both.append((monitor, _POLLIN))
            backend_only.append((monitor, _POLLIN))
        interval = self.config.heartbeat_interval_in_seconds
        # One clock reading per wake-up serves the timer and the workers' "last heard from" alike.
        now = self._now = time.monotonic()
        next_housekeeping = now + interval
        self._last_worker_seen = now
        while not self._stopping:
            wait_ms = min(_MAX_POLL_MS, max(0, int((next_housekeeping - now) * 1000)))
            # Only read new requests while a worker is idle: otherwise they wait in ZeroMQ's queues.
            # zmq_poll reports the sockets in the order given: the backend (responses, idle workers) first.
            # One message per socket per wake-up (the poll returns at once while more wait): the two
            # sockets take turns, and no readiness check per message is needed to end a batch.
            # With no worker idle but some leased, the frontend is watched (not read): a request waiting
            # there is the signal to take the leased workers back.
            events = zmq_poll(both if self.ready or self.revocable else backend_only, wait_ms)
            now = self._now = time.monotonic()
            for sock, _event in events:
                if sock is backend:
                    self._from_backend(backend, frontend)
                    if self.pending:
                        self._dispatch_pending(backend)
                        if self.pending and self.revocable:
                            self._revoke_leases(backend)
                elif sock is frontend:
                    if self.ready and not self.pending:
                        self._from_frontend(frontend, backend)
                    elif self.revocable and not self.ready:
                        self._revoke_leases(backend)
                else:
                    self._log_handshake_failures(sock)
            if now >= next_housekeeping:
                next_housekeeping = now + interval
                self._housekeeping(now)

    def _from_backend(self, backend: zmq.Socket[Any], frontend: zmq.Socket[Any]) -> None:
        """Handle one message from a worker (the poll said one waits)."""
        try:
            frames = recv_frames(backend, NOBLOCK)
        except zmq.Again:
            return
        if len(frames) == 4 and frames[2][:4] == _RESPONSE_PREFIX and len(frames[2]) >= FIXED_SIZE:
            try:
                send_frames(frontend, frames[1:])
            except zmq.ZMQError as exc:
                # The client left (EHOSTUNREACH), or its queue is full because it stopped
                # reading (EAGAIN): drop the response, never block the router.
                self.stats["undeliverable_responses"] += 1
                _logger.debug("Dropped a response for a client: %s", exc.strerror)
            # Idle again: to the back of the queue. A worker is never both busy and ready.
            worker = frames[0]
            if self.busy.pop(worker, None) is None and self.ready.pop(worker, None) is None:
                if self.leased.pop(worker, None) is None:
                    self._new_worker(worker)
                self.revocable.discard(worker)
            self.ready[worker] = self._now
        else:
            self._worker_message(backend, frames)

    def _worker_message(self, backend: zmq.Socket[Any], frames: list[bytes]) -> None:
        """Anything from a worker but a response: the control messages and bounced requests."""
        worker = frames[0]
        count = len(frames)
        kind = _kind(frames[1]) if count == 2 else _kind(frames[2]) if count == 5 else 0
        if count == 2 and kind == HEARTBEAT:
            if worker in self.ready:
                self.ready[worker] = self._now  # seen, but keeps its place in the queue
            elif worker in self.leased:
                self.leased[worker] = self._now
            elif worker not in self.busy:
                # A worker this router does not know: idle (it heartbeats only when idle), so it
                # was there before a router restart. Take it on.
                self._worker_idle(worker)
            # From a busy worker, a heartbeat sent just before our request reached it: not idle.
        elif count == 2 and kind == READY:
            self._worker_idle(worker)
        elif count == 2 and kind == LEASED:
            self._worker_leased(worker)
        elif count == 2 and kind == LEASES:
            # "I can lease myself": say this router understands leases (one that does not stays silent).
            try:
                backend.send_multipart([worker, self._leases], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # gone already, or its queue is full: it asks again at its next heartbeat
        elif count == 2 and kind == DISCONNECT:
            self.ready.pop(worker, None)
            self.busy.pop(worker, None)
            self.leased.pop(worker, None)
            self.revocable.discard(worker)
            _logger.info("Worker %s left", _label(worker))
            try:
                backend.send_multipart([worker, self._bye], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        elif count == 5 and kind == BOUNCE and _kind(frames[3]) == REQUEST:
            # [worker, client, BOUNCE header, original request header, envelope]
            self.busy.pop(worker, None)
            self.pending.append([frames[1], frames[3], frames[4]])
        else:
            self.stats["malformed"] += 1

    def _worker_idle(self, worker: bytes) -> None:
        if worker not in self.ready and worker not in self.busy and self.leased.pop(worker, None) is None:
            self._new_worker(worker)
        self.revocable.discard(worker)
        self.busy.pop(worker, None)
        self.ready.pop(worker, None)
        self.ready[worker] = self._now

    def _new_worker(self, worker: bytes) -> None:
        _logger.info("Worker %s ready", _label(worker))

    def _worker_leased(self, worker: bytes) -> None:
        """LEASED: after a response with a lease offer (which made the worker idle a moment ago)."""
        if worker in self.busy:
            return  # a request was dispatched to it meanwhile: that ended the lease
        if worker in self.leased:
            self.leased[worker] = self._now
            return
        if self.ready.pop(worker, None) is not None:
            self.stats["leases"] += 1
        else:
            self._new_worker(worker)
        self.leased[worker] = self._now
        self.revocable.add(worker)

    def _revoke_leases(self, backend: zmq.Socket[Any]) -> None:
        """Requests wait and no worker is idle: ask every leased worker to end its lease."""
        for worker in self.revocable:
            try:
                backend.send_multipart([worker, self._revoke], zmq.NOBLOCK)
                self.stats["revokes"] += 1
            except zmq.ZMQError:
                pass  # gone: forgotten once silent
        self.revocable.clear()

    def _from_frontend(self, frontend: zmq.Socket[Any], backend: zmq.Socket[Any]) -> None:
        """Hand one client's request to the worker idle longest (the poll said one waits)."""
        try:
            frames = recv_frames(frontend, NOBLOCK)
        except zmq.Again:
            return
        # [client, header, envelope]
        if len(frames) == 3 and frames[1][:4] == _REQUEST_PREFIX and len(frames[1]) >= FIXED_SIZE:
            self._dispatch(frames, backend, time.time())
        else:
            self.stats["malformed"] += 1

    def _dispatch_pending(self, backend: zmq.Socket[Any]) -> None:
        wall = time.time()
        while self.pending and self.ready:
            self._dispatch(self.pending.popleft(), backend, wall)

    def _dispatch(self, request: list[bytes], backend: zmq.Socket[Any], wall: float) -> None:
        expires_at = expires_at_of(request[1])
        if expires_at < wall:
            self.stats["expired"] += 1  # its caller has given up: nobody should run it
            return
        ready = self.ready
        while ready:
            worker, _seen = ready.popitem(last=False)
            try:
                send_frames(backend, [worker, *request])
            except zmq.ZMQError as exc:
                # EHOSTUNREACH: its connection is gone. EAGAIN: its queue is full, so it is not idle.
                self.stats["workers_lost"] += 1
                _logger.warning("Worker %s unreachable (%s); trying another", _label(worker), exc.strerror)
                continue
            self.busy[worker] = expires_at + self._busy_grace
            self.stats["dispatched"] += 1
            return
        self.pending.appendleft(request)

    def _housekeeping(self, now: float) -> None:
        timeout = self.config.heartbeat_timeout_in_seconds
        for worker, seen in list(self.ready.items()):
            if now - seen > timeout:
                del self.ready[worker]
                self.stats["workers_lost"] += 1
                _logger.warning("Worker %s silent for %.1fs; forgotten", _label(worker), now - seen)
        for worker, seen in list(self.leased.items()):
            if now - seen > timeout:
                # Dead, or on a long job of its lessee; a live one says READY when its lease ends.
                del self.leased[worker]
                self.revocable.discard(worker)
                self.stats["workers_lost"] += 1
                _logger.info("Leased worker %s silent for %.1fs; forgotten", _label(worker), now - seen)
        wall = time.time()
        for worker, forget_at in list(self.busy.items()):
            if wall > forget_at:
                # Dead, or still on a job whose caller gave up long ago; a live one re-registers.
                del self.busy[worker]
        if self.pending:
            self.pending = deque(request for request in self.pending if expires_at_of(request[1]) >= wall)
        if self.ready or self.busy or self.leased:
            self._last_worker_seen = now
        elif self.config.idle_exit_in_seconds is not None and now - self._last_worker_seen > (
            self.config.idle_exit_in_seconds
        ):
            _logger.info("No worker for %ss; router exiting", self.config.idle_exit_in_seconds)
            self._stopping = True


def _kind(header: bytes) -> int:
    """The message kind of a header frame, or 0 if it is not one of ours (cheaper than a full parse)."""
    if len(header) < FIXED_SIZE or header[:2] != MAGIC or header[2] != VERSION:
        return 0
    return header[3]


def _label(worker: bytes) -> str:
    return worker.decode("utf-8", "replace")


# --- running as a process --------------------------------------------------------------------------


def run_router_process(config: RouterConfig, status_fd: int | None = None) -> int:
    """Take the lock, bind, route until SIGTERM/SIGINT. Returns the exit status.

    With ``status_fd``, writes ``ok``, ``busy`` or ``error: ...`` there once bound (for the launcher).
    """

    def report(status: str) -> None:
        if status_fd is not None:
            os.write(status_fd, status.encode("utf-8", "replace") + b"\n")
            os.close(status_fd)

    lock = RouterLock(config.lock_file)
    try:
        if not lock.acquire():
            holder = RouterLock.holder_pid(config.lock_file)
            report("busy")
            _logger.error("A router for %s already runs (pid %s)", config.endpoint, holder)
            return _EXIT_ALREADY_RUNNING
        router = Router(config)
        try:
            router.bind()
        except ConfigurationError as exc:
            report(f"error: {exc}")
            _logger.error("%s", exc)
            return 1
        previous = {sig: signal.signal(sig, _stopper(router)) for sig in (signal.SIGTERM, signal.SIGINT)}
        report("ok")
        try:
            router.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            router.close()
        return 0
    finally:
        lock.release()


def _stopper(router: Router) -> Any:
    def handler(_signal_number: int, _frame: FrameType | None) -> None:
        router.stop()

    return handler


def _launch_detached(config: RouterConfig) -> int:
    """The ``--spawned`` launcher: fork a detached router, wait until it is bound, report, exit."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the router
        os.close(read_fd)
        os.setsid()
        # Whoever started the launcher may have blocked these (a supervisor does, around forks).
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)  # never hold the launcher's pipes open: its caller waits for EOF
        os.close(devnull)
        _configure_logging(config.log_file)
        exit_status = 1
        try:
            exit_status = run_router_process(config, status_fd=write_fd)
        except BaseException:
            _logger.exception("Router crashed")
        finally:
            os._exit(exit_status)
    os.close(write_fd)
    status = _read_status(read_fd, timeout=15.0)
    if status == "ok":
        print(pid)
        return 0
    if status == "busy":
        return _EXIT_ALREADY_RUNNING
    reason = status.removeprefix("error:").strip() or "the router exited before binding"
    sys.stderr.write(reason + "\n")
    return 1


def _read_status(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    try:
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return "error: the router did not bind in time"
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace").strip()


def _configure_logging(log_file: str | None) -> None:
    handler: logging.Handler = logging.FileHandler(log_file) if log_file else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def spawn_router(config: RouterConfig) -> int | None:
    """Start a detached router process for ``config``; returns its pid, or ``None`` if one already runs.

    Blocks until the router has bound its endpoints. Raises :class:`ConfigurationError` with the
    router's reason when it cannot start (an endpoint in use, a bad path, ...).
    """
    # The configuration (which may hold the secret key) goes through stdin, never the command line.
    result = subprocess.run(
        [sys.executable, "-m", "soa_zmq.router", "--spawned", config.endpoint],
        input=json.dumps(config.to_dict()).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode == 0:
        return int(result.stdout.decode().strip())
    if result.returncode == _EXIT_ALREADY_RUNNING:
        return None
    reason = result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
    raise ConfigurationError(f"Could not start the router for {config.endpoint}: {reason}")


def stop_router(lock_file: str, pid: int | None = None, timeout: float = 5.0) -> bool:
    """SIGTERM the router holding ``lock_file`` (only if it is ``pid``, when given) and wait for it to exit.

    Returns ``False`` if no such router ran.
    """
    from soa_zmq._election import router_is_running

    holder = RouterLock.holder_pid(lock_file)
    if holder is None or (pid is not None and holder != pid) or not router_is_running(lock_file):
        return False
    os.kill(holder, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while router_is_running(lock_file) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def main(argv: list[str] | None = None) -> int:
    """``soa-zmq-router``: run a service's router in the foreground."""
    parser = argparse.ArgumentParser(
        prog="soa-zmq-router",
        description="Run the ZeroMQ router of one soa service (workers in 'auto' role start one themselves).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-s", "--settings", help="the service's settings module (its SOA_SERVER_SETTINGS)")
    source.add_argument("--kwargs", help="the zmq server transport kwargs, as JSON")
    # --spawned ENDPOINT: the launcher mode (configuration on stdin); the endpoint only labels it in ps.
    source.add_argument("--spawned", metavar="ENDPOINT", help=argparse.SUPPRESS)
    parser.add_argument("--idle-exit", type=float, default=None, help="exit after this many seconds without workers")
    args = parser.parse_args(argv)
    if args.spawned:
        return _launch_detached(RouterConfig.from_dict(json.load(sys.stdin)))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        kwargs = json.loads(args.kwargs) if args.kwargs else _transport_kwargs_from_module(args.settings)
        config = RouterConfig.from_transport_settings(kwargs)
    except (ConfigurationError, ValueError) as exc:
        parser.error(str(exc))
    config = RouterConfig(**{**config.__dict__, "idle_exit_in_seconds": args.idle_exit, "log_file": None})
    return run_router_process(config)


def _transport_kwargs_from_module(module_name: str) -> dict[str, Any]:
    import importlib

    module = importlib.import_module(module_name)
    settings = getattr(module, "SOA_SERVER_SETTINGS", None) or getattr(module, "settings", None)
    transport = settings.get("transport") if isinstance(settings, Mapping) else None
    if not isinstance(transport, Mapping) or transport.get("name") != "zmq":
        raise ConfigurationError(f"{module_name}'s transport is not {{'name': 'zmq', 'kwargs': {{...}}}}")
    return dict(transport.get("kwargs") or {})


if __name__ == "__main__":
    sys.exit(main())
