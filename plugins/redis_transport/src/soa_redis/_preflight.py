"""The server transport's start-up check: login, TLS and every ACL right it will use, on each Redis host.

Run once before a server takes its first request (``RedisServerTransport.check_startup``). Each
command the server transport sends is tried once, harmlessly, with the keys it will use:

* writes go to a private probe key under the service's reply-queue prefix,
  ``pysoa:service.<name>.startup-check.<32 hex>`` (no reply queue has that form, and it expires
  within seconds even if the check is cut short);
* ``BLPOP`` names the probe key (holding one value) *before* the request queue, so it pops the
  probe's value and never a request, while Redis still checks the right to pop the request queue.

So the check needs no right the transport does not need itself. (Redis 7's ``ACL DRYRUN`` would be
exact too, but only an administrator may run it.)

A refused login, a TLS failure, a command or key Redis refuses (``NOPERM``), a read-only replica
or an unknown command raise :class:`~pysoa.errors.ConfigurationError` with one line naming the
problem. A Redis that cannot be reached is an outage, not a configuration error: that is only
logged, and the server keeps trying as usual. Two failures look like outages but are not, and are
told apart by asking again directly, only after a failure: TLS on one end only (the port answers
a plain ``PING``, or completes a TLS handshake) and Sentinels that all refuse the login (redis-py
only says "no master found"). The ``maxmemory-policy`` check needs ``INFO`` (or
``CONFIG GET``); without either it is skipped, and that is logged once.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import redis.exceptions as redis_errors
from redis.connection import SSLConnection
from redis.crc import key_slot
from redis.sentinel import MasterNotFoundError

from pysoa.errors import ConfigurationError, TransportError
from soa_redis._envelope import request_queue_key

if TYPE_CHECKING:
    from soa_redis._backend import RedisBackend, _Host
    from soa_redis._cluster import RedisClusterBackend

__all__ = ["check_cluster_backend", "check_server_backend"]

_logger = logging.getLogger("soa_redis.server")

# The probe key outlives an interrupted check by at most this long.
_PROBE_TTL_SECONDS: Final = 10
_PROBE_BLOCK_SECONDS: Final = 0.01
_DIAGNOSIS_SECONDS: Final = 2.0
# "this user has no permissions to run the 'config|get' command"
_DENIED_COMMAND: Final = re.compile(r"run the '([^']+)' command")
# A command a script may not run: Redis names the script's line, not the command.
_DENIED_IN_SCRIPT: Final = re.compile(r"can't run this command.* on @user_script:(\d+)")
_SCRIPT_CALL: Final = re.compile(r"redis\.call\('(\w+)'")
# Unreachable, or busy or full right now: not set up wrongly. (BusyLoadingError is a ConnectionError.)
_PASSING_ERRORS: Final = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.OutOfMemoryError)


@dataclass(frozen=True)
class _Step:
    """One command the server will run, tried harmlessly. ``keys`` is the key pattern it touches."""

    command: str
    keys: str | None
    run: Callable[[], object]


def check_server_backend(backend: RedisBackend, service_name: str, chunking: bool, report_skipped: bool) -> None:
    """Check every Redis host of ``backend`` for the server of ``service_name``.

    ``chunking``: the server may send chunked responses (it then also runs its Lua script).
    ``report_skipped``: log the checks skipped for lack of optional rights (one worker says it).
    Raises :class:`ConfigurationError` naming the first problem found; returns otherwise.
    """
    try:
        hosts = backend.startup_hosts()
    except TransportError as exc:
        _raise_if_sentinels_refuse(backend)
        _logger.warning("Could not check the Redis backend of %s at start-up: %s", service_name, exc)
        return
    checked = []
    for host in hosts:
        try:
            _check_host(host, service_name, chunking)
        except redis_errors.RedisError as exc:
            if isinstance(exc, MasterNotFoundError):
                _raise_if_sentinels_refuse(backend)
            # Unreachable or busy: an outage the server rides out as usual, not a configuration error.
            _logger.warning("Could not check Redis at %s for %s at start-up: %s", host.label, service_name, exc)
            continue
        checked.append(host)
    if checked:
        _check_eviction(backend, checked, report_skipped)


def _raise_if_sentinels_refuse(backend: RedisBackend) -> None:
    """After "no master": raise ``ConfigurationError`` if every Sentinel refuses us (login, TLS, ACL).

    redis-py reports that as "no master found", just like a failover in progress. Asked directly
    with the command redis-py uses (``SENTINEL MASTERS``), the Sentinels tell the two apart.
    """
    refusals = []
    for node in backend.sentinel_nodes():
        try:
            node.sentinel_masters()
        except redis_errors.RedisError as exc:
            if not _is_configuration_problem(exc):
                return
            refusals.append((node, exc))
        else:
            return  # this one answers: the master is really missing (a failover, or a wrong service name)
    if refusals:
        node, refusal = refusals[0]
        kwargs = node.connection_pool.connection_kwargs
        raise ConfigurationError(
            f"Every Sentinel refused the connection, so no master can be found (check sentinel_kwargs: "
            f"username, password, TLS, ACL); Sentinel at {kwargs.get('host')}:{kwargs.get('port')}: "
            f"{type(refusal).__name__}: {refusal}"
        ) from refusal


def _describe(error: redis_errors.RedisError, step: _Step, host: _Host, service_name: str) -> str:
    """One line naming the configuration problem ``error`` shows (see :func:`_is_configuration_problem`)."""
    kwargs = host.command.connection_pool.connection_kwargs
    user = kwargs.get("username") or "default"
    where = f"Redis at {host.label}"
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, redis_errors.AuthenticationError):
        return f"{where} refused the login of user {user!r}: check the username and password ({detail})"
    if _tls_error(error) is not None:
        return f"TLS with {where} failed: check ssl_ca_certs and the server's certificate ({detail})"
    if isinstance(error, redis_errors.NoPermissionError):
        denied = _DENIED_COMMAND.search(str(error))
        if denied is not None:
            why = f" (for database {kwargs.get('db')})" if denied.group(1) == "select" else ""
            return (
                f"{where}: user {user!r} lacks the ACL right +{denied.group(1)}{why}, which the server of "
                f"{service_name!r} needs ({detail})"
            )
        return (
            f"{where}: user {user!r} may not use the keys of {step.command}: the server of {service_name!r} "
            f"needs the key pattern {step.keys} with read and write access ({detail})"
        )
    if isinstance(error, redis_errors.ReadOnlyError):
        return f"{where} is a read-only replica: point the server of {service_name!r} at the master ({detail})"
    return f"{where} refused {step.command}, which the server of {service_name!r} needs ({detail})"


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _tls_error(error: BaseException) -> BaseException | None:
    return next((cause for cause in _causes(error) if isinstance(cause, ssl.SSLError)), None)


def _is_configuration_problem(error: redis_errors.RedisError) -> bool:
    """A refused login, TLS failure or refused command, rather than an unreachable or busy Redis."""
    if isinstance(error, redis_errors.AuthenticationError) or _tls_error(error) is not None:
        return True
    if isinstance(error, _PASSING_ERRORS):
        return False
    return isinstance(error, redis_errors.ResponseError)


def _steps(host: _Host, service_name: str, chunking: bool) -> list[_Step]:
    command, blocking = host.command, host.blocking
    request_key = request_queue_key(service_name)
    probe = f"{request_key}.startup-check.{uuid.uuid4().hex}"
    marker = f"soa-redis start-up check {uuid.uuid4().hex}"
    replies, requests = f"~{request_key}.*", f"~{request_key}"

    def measure_clock() -> None:
        # The first command also logs in, negotiates TLS and selects the database.
        sent_at = time.time()
        seconds, microseconds = command.time()
        host.record_clock(seconds + microseconds / 1e6, sent_at, time.time())

    def push() -> None:
        command.rpush(probe, marker)
        command.expire(probe, _PROBE_TTL_SECONDS)

    def pop() -> None:
        # The probe key comes first and holds a value: BLPOP takes that, never a request.
        blocking.blpop([probe, request_key], timeout=_PROBE_BLOCK_SECONDS)

    def run_script() -> None:
        script = host.push_script
        command.evalsha(script.sha, 1, probe, _PROBE_TTL_SECONDS, 1, marker)
        command.lrem(probe, 0, marker)

    steps = [
        _Step("TIME", None, measure_clock),
        # EXPIRE, LREM and LPOP first, on the still missing key: they change nothing there.
        _Step("EXPIRE", replies, lambda: command.expire(probe, _PROBE_TTL_SECONDS)),
        _Step("LREM", replies, lambda: command.lrem(probe, 0, marker)),
        # The last stretch before a deadline is polled with LPOP (exact timeouts; chunk reassembly).
        _Step("LPOP", replies, lambda: command.lpop(probe)),
        _Step("RPUSH", replies, push),
        _Step("BLPOP", requests, pop),
    ]
    if chunking:
        # Chunked responses go out through the Lua script, which runs LLEN, RPUSH, EXPIRE and TIME;
        # Redis names no command when a script's call is refused, so LLEN is tried on its own first.
        steps += [
            _Step("LLEN", replies, lambda: command.llen(probe)),
            # Explicitly: a script another process loaded would hide a missing SCRIPT LOAD right
            # until Redis restarts and forgets it.
            _Step("SCRIPT LOAD", None, lambda: command.script_load(host.push_script.script)),
            _Step("EVALSHA", replies, run_script),
        ]
    return steps


def _check_host(host: _Host, service_name: str, chunking: bool) -> None:
    """Run every step; raise ``ConfigurationError`` for a configuration problem, else the ``RedisError``."""
    for number, step in enumerate(_steps(host, service_name, chunking)):
        try:
            step.run()
        except redis_errors.RedisError as exc:
            if _is_configuration_problem(exc):
                raise ConfigurationError(_describe(exc, step, host, service_name)) from exc
            mismatch = _tls_mismatch(host) if number == 0 else None
            if mismatch is not None:
                raise ConfigurationError(f"Redis at {host.label} {mismatch} ({type(exc).__name__}: {exc})") from exc
            raise


def _tls_mismatch(host: _Host) -> str | None:
    """After a failed first connection: whether TLS is on at one end only, found out on a fresh socket.

    A TLS client on a plain port waits for a handshake that never comes; a plain client on a TLS
    port is hung up on: both look like an outage. Asked directly, the port tells: a plain port
    answers ``PING`` in Redis's protocol, a TLS port completes a handshake. ``None`` when neither
    (unreachable, or something else is wrong).
    """
    pool = host.command.connection_pool
    address, port = pool.connection_kwargs.get("host"), pool.connection_kwargs.get("port")
    if not isinstance(address, str) or not isinstance(port, int):
        return None  # a unix socket, or a Sentinel master (its address changes): not diagnosed
    uses_tls = issubclass(pool.connection_class, SSLConnection)
    try:
        with socket.create_connection((address, port), _DIAGNOSIS_SECONDS) as sock:
            sock.settimeout(_DIAGNOSIS_SECONDS)
            if uses_tls:
                sock.sendall(b"PING\r\n")
                if sock.recv(1)[:1] in (b"+", b"-"):
                    return "does not speak TLS on that port: use redis:// (or drop ssl=True)"
                return None
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # only asking whether the port speaks TLS at all
            with context.wrap_socket(sock):
                return "only speaks TLS on that port: use rediss:// (or ssl=True)"
    except OSError:  # ssl.SSLError included
        return None


def _check_eviction(backend: RedisBackend, checked: list[_Host], report_skipped: bool) -> None:
    """Warn when Redis may evict queues; say once which hosts would not tell (no INFO or CONFIG GET)."""
    policies = backend.eviction_policies()
    for label, policy, maxmemory in policies:
        if policy != "noeviction":
            _logger.warning(
                "Redis at %s has maxmemory-policy %r (maxmemory %s): under memory pressure it can evict "
                "queues and lose requests and responses; use 'noeviction' for soa-core queues",
                label,
                policy,
                maxmemory or "unlimited",
            )
    answered = {label for label, _policy, _maxmemory in policies}
    for host in checked:
        if report_skipped and host.label not in answered:
            _logger.info(
                "Skipped the maxmemory-policy check of Redis at %s: the user may run neither INFO nor "
                "CONFIG GET (grant +info to enable it)",
                host.label,
            )


def check_cluster_backend(backend: RedisClusterBackend, service_name: str, report_skipped: bool) -> None:
    """The same check on a Redis Cluster: login, TLS and each command the server runs there.

    A command may not span slots, so the private probe key is chosen in the request queue's slot
    (``BLPOP probe request-queue`` still names the request queue first-hand). On a cluster every
    push runs the push script (``EVALSHA``, or ``EVAL`` where a master lacks it) and never ``LREM``.
    Raises :class:`ConfigurationError` naming the problem.
    """
    where = backend.label(0)
    user = backend.config.connection_kwargs.get("username") or "default"
    try:
        command, blocking = backend.startup_clients()
    except (redis_errors.RedisError, TransportError) as exc:
        if isinstance(exc, redis_errors.RedisError) and _is_configuration_problem(exc):
            denied = _DENIED_COMMAND.search(str(exc)) if isinstance(exc, redis_errors.NoPermissionError) else None
            if denied:  # the cluster client reads the slot map (CLUSTER SLOTS) and the command table (COMMAND)
                raise ConfigurationError(
                    f"{where}: user {user!r} lacks the ACL right +{denied.group(1)}, which the cluster client of "
                    f"{service_name!r} needs ({type(exc).__name__}: {exc})"
                ) from exc
            raise ConfigurationError(f"{where} refused user {user!r}: {type(exc).__name__}: {exc}") from exc
        _logger.warning("Could not check %s for %s at start-up: %s", where, service_name, exc)
        return
    request_key = request_queue_key(service_name)
    probe = _probe_in_slot_of(request_key)
    marker = f"soa-redis start-up check {uuid.uuid4().hex}"
    replies, requests = f"~{request_key}.*", f"~{request_key}"

    def push(load: bool) -> None:
        if load:  # EVAL also caches the script on that master, which EVALSHA then finds
            command.eval(backend.push_script_source, 1, probe, _PROBE_TTL_SECONDS, 1, marker)
        else:
            command.evalsha(backend.push_script_sha, 1, probe, _PROBE_TTL_SECONDS, 2, marker)

    steps = [
        _Step("LPOP", replies, lambda: command.lpop(probe)),
        # Pushes run the script with EVALSHA, and with EVAL where a master has not cached it yet.
        _Step("EVAL", replies, lambda: push(load=True)),
        _Step("EVALSHA", replies, lambda: push(load=False)),
        # The probe holds the marker and comes first: BLPOP takes it, never a request.
        _Step("BLPOP", requests, lambda: blocking.blpop([probe, request_key], timeout=_PROBE_BLOCK_SECONDS)),
    ]
    for step in steps:
        try:
            step.run()
        except redis_errors.RedisError as exc:
            if not _is_configuration_problem(exc):
                _logger.warning("Could not check %s for %s at start-up: %s", where, service_name, exc)
                return
            detail = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, redis_errors.NoPermissionError):
                denied = _DENIED_COMMAND.search(str(exc))
                what = (
                    f"lacks the ACL right +{denied.group(1)}" if denied else f"may not use the keys of {step.command}"
                )
                raise ConfigurationError(
                    f"{where}: user {user!r} {what}, which the server of {service_name!r} needs "
                    f"(key patterns {step.keys}) ({detail})"
                ) from exc
            in_script = _script_command(str(exc), backend.push_script_source)
            if in_script is not None:
                raise ConfigurationError(
                    f"{where}: user {user!r} lacks the ACL right +{in_script} (run inside the push script), which "
                    f"the server of {service_name!r} needs ({detail})"
                ) from exc
            raise ConfigurationError(
                f"{where} refused {step.command} for the server of {service_name!r} ({detail})"
            ) from exc
    for label, policy, maxmemory in backend.eviction_policies():
        if policy != "noeviction":
            _logger.warning(
                "Redis at %s has maxmemory-policy %r (maxmemory %s): under memory pressure it can evict "
                "queues and lose requests and responses; use 'noeviction' for soa-core queues",
                label,
                policy,
                maxmemory or "unlimited",
            )


def _probe_in_slot_of(key: str) -> str:
    """A private key ``<key>.startup-check.<hex>`` in the same cluster slot as ``key`` (found by trying;
    about 16 000 tries, a few hundredths of a second, once at start-up)."""
    slot = key_slot(key.encode("utf-8"))
    prefix = f"{key}.startup-check.{uuid.uuid4().hex[:8]}"
    number = 0
    while True:
        candidate = f"{prefix}{number:x}"
        if key_slot(candidate.encode("utf-8")) == slot:
            return candidate
        number += 1


def _script_command(message: str, script: str) -> str | None:
    """The command (lower case, as ACL rules name it) on the script line a refusal ``message`` names, if any."""
    denied = _DENIED_IN_SCRIPT.search(message)
    lines = script.split("\n")
    if denied is None or not 0 < int(denied.group(1)) <= len(lines):
        return None
    call = _SCRIPT_CALL.search(lines[int(denied.group(1)) - 1])
    return call.group(1).lower() if call else None
