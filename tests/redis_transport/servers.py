"""Private ``redis-server`` processes for tests: standalone, TLS, and master + replica + Sentinels.

Every server listens on a free loopback port (never the system Redis on 6379), keeps nothing on
disk (``--save '' --appendonly no``), is ready (answers PING) when returned, and is stopped by its
pid. Other test packages reuse this module::

    from tests.redis_transport.servers import start_redis, start_sentinel_cluster
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

__all__ = [
    "REDIS_SERVER",
    "RedisProcess",
    "SentinelCluster",
    "TLSFiles",
    "free_port",
    "make_tls_files",
    "start_redis",
    "start_sentinel_cluster",
]

REDIS_SERVER = shutil.which("redis-server")
HOST = "127.0.0.1"
_START_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls_files(directory: Path) -> TLSFiles:
    """Create a self-signed CA and a server certificate with the ``openssl`` binary."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("The TLS tests need the openssl binary")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"  # clientAuth: cluster nodes present it to each other
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_cert, "-days", "2", "-subj", "/CN=soa-test-ca",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", extensions],
    ]  # fmt: skip
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True, timeout=30)
    return TLSFiles(ca_cert=ca_cert, server_cert=cert, server_key=key)


@dataclass
class RedisProcess:
    """One running ``redis-server`` (or Sentinel) started by :func:`start_redis`."""

    port: int
    process: subprocess.Popen[bytes]
    directory: Path
    log_file: Path
    tls: TLSFiles | None = None
    client_kwargs: dict[str, Any] = field(default_factory=dict)

    host: str = HOST

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/0"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self, **kwargs: Any) -> redis.Redis:
        """A raw redis-py client (bytes replies) for looking at what is on the server."""
        options: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 5.0, **self.client_kwargs}
        if self.tls is not None:
            options.update(ssl=True, ssl_ca_certs=str(self.tls.ca_cert))
        options.update(kwargs)
        return redis.Redis(host=self.host, port=self.port, **options)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL by pid, like a crashed host."""
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM by pid, then SIGKILL if it does not exit within 5 s."""
        if self.alive:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log(self) -> str:
        text = ""
        for path in (self.log_file.with_suffix(".stderr"), self.log_file):
            try:
                text += path.read_text(errors="replace")
            except OSError:
                pass
        return text


def _wait_ready(server: RedisProcess, timeout: float = _START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not server.alive:
            raise RuntimeError(f"redis-server on port {server.port} exited:\n{server.log()[-2000:]}")
        client = server.client(socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            if client.ping():
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
            # ResponseError: still loading, or a password is needed and the caller gave client_kwargs.
            last_error = exc
        finally:
            client.close()
        time.sleep(0.02)
    server.stop()
    raise RuntimeError(f"redis-server on port {server.port} did not answer PING: {last_error}\n{server.log()[-2000:]}")


def start_redis(
    directory: Path,
    *extra_args: str,
    tls: TLSFiles | None = None,
    config_file: Path | None = None,
    sentinel: bool = False,
    client_kwargs: dict[str, Any] | None = None,
    port: int | None = None,
) -> RedisProcess:
    """Start a private server on a free loopback port and wait until it answers PING.

    ``extra_args`` are more ``--name value`` options; ``config_file`` (with ``sentinel``) starts a
    Sentinel instead. Retries with another port if the chosen one was taken in the meantime.
    """
    if REDIS_SERVER is None:
        raise RuntimeError("redis-server is not installed (scripts/ensure-redis.sh installs it)")
    directory.mkdir(parents=True, exist_ok=True)
    for _attempt in range(5):
        chosen = port or free_port()
        log_file = directory / f"redis-{chosen}.log"
        args: list[str] = [REDIS_SERVER]
        if config_file is not None:
            args.append(str(config_file))
        if tls is None:
            args += ["--port", str(chosen)]
        else:
            args += [
                "--port", "0",
                "--tls-port", str(chosen),
                "--tls-cert-file", str(tls.server_cert),
                "--tls-key-file", str(tls.server_key),
                "--tls-ca-cert-file", str(tls.ca_cert),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        args += ["--bind", HOST, "--logfile", str(log_file), "--dir", str(directory)]
        if not sentinel:
            args += ["--save", "", "--appendonly", "no"]
        else:
            args.append("--sentinel")
        args += list(extra_args)
        # Configuration errors go to stderr before the log file is opened; keep them for the error message.
        with open(log_file.with_suffix(".stderr"), "wb") as stderr:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        server = RedisProcess(chosen, process, directory, log_file, tls, dict(client_kwargs or {}))
        try:
            _wait_ready(server)
        except RuntimeError:
            server.stop()
            if "Address already in use" in server.log() and port is None:
                continue
            raise
        return server
    raise RuntimeError("Could not find a free port for redis-server")


@dataclass
class SentinelCluster:
    """1 master + 1 replica watched by 3 Sentinels (quorum 2) under the master name ``service``."""

    master: RedisProcess
    replica: RedisProcess
    sentinels: list[RedisProcess]
    service: str

    @property
    def sentinel_hosts(self) -> list[str]:
        return [sentinel.address for sentinel in self.sentinels]

    def master_port(self) -> int | None:
        """The master's port as the first reachable Sentinel reports it."""
        for sentinel in self.sentinels:
            if not sentinel.alive:
                continue
            client = sentinel.client(socket_timeout=1.0)
            try:
                address = client.sentinel_get_master_addr_by_name(self.service)
            except redis.RedisError:
                continue
            finally:
                client.close()
            if isinstance(address, tuple | list):
                return int(address[1])
        return None

    def wait_until_ready(self, timeout: float = 20.0) -> None:
        """Until every Sentinel sees the healthy replica and the two other Sentinels."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._sentinel_ready(sentinel) for sentinel in self.sentinels):
                return
            time.sleep(0.1)
        raise RuntimeError("Sentinels did not discover each other and the replica in time")

    def _sentinel_ready(self, sentinel: RedisProcess) -> bool:
        client = sentinel.client(socket_timeout=1.0)
        try:
            replicas: list[dict[str, Any]] = client.sentinel_slaves(self.service)
            others: list[dict[str, Any]] = client.sentinel_sentinels(self.service)  # type: ignore[assignment]
        except redis.RedisError:
            return False
        finally:
            client.close()
        healthy = [r for r in replicas if not r.get("is_sdown") and r.get("master-link-status", "ok") == "ok"]
        return len(healthy) == 1 and len(others) == len(self.sentinels) - 1

    def wait_for_new_master(self, old_port: int, timeout: float = 20.0) -> int:
        """Until the Sentinels report a master other than ``old_port`` that accepts writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            port = self.master_port()
            if port is not None and port != old_port:
                return port
            time.sleep(0.05)
        raise RuntimeError("No failover happened in time")

    def stop(self) -> None:
        for server in [*self.sentinels, self.replica, self.master]:
            server.stop()


def start_sentinel_cluster(
    directory: Path,
    service: str = "soa-master",
    down_after_milliseconds: int = 500,
    failover_timeout_milliseconds: int = 2000,
    sentinel_count: int = 3,
) -> SentinelCluster:
    """Start a master, one replica and ``sentinel_count`` Sentinels, and wait until they know each other."""
    fast_sync = ("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    master = start_redis(directory / "master", *fast_sync)
    started: list[RedisProcess] = [master]
    try:
        replica = start_redis(directory / "replica", *fast_sync, "--replicaof", HOST, str(master.port))
        started.append(replica)
        _wait_replica_synced(replica)
        sentinels = []
        for number in range(sentinel_count):
            sentinel_dir = directory / f"sentinel-{number}"
            sentinel_dir.mkdir(parents=True, exist_ok=True)
            config = sentinel_dir / "sentinel.conf"
            # Sentinel rewrites its configuration file, so each gets its own writable one.
            config.write_text(
                f"sentinel monitor {service} {HOST} {master.port} 2\n"
                f"sentinel down-after-milliseconds {service} {down_after_milliseconds}\n"
                f"sentinel failover-timeout {service} {failover_timeout_milliseconds}\n"
                f"sentinel parallel-syncs {service} 1\n"
            )
            sentinel = start_redis(sentinel_dir, config_file=config, sentinel=True)
            started.append(sentinel)
            sentinels.append(sentinel)
        cluster = SentinelCluster(master, replica, sentinels, service)
        cluster.wait_until_ready()
        return cluster
    except BaseException:
        for server in reversed(started):
            server.stop()
        raise


def _wait_replica_synced(replica: RedisProcess, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    client = replica.client()
    try:
        while time.monotonic() < deadline:
            if client.info("replication").get("master_link_status") == "up":
                return
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError("The replica did not sync with the master in time")
