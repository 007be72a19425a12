"""The transport's settings: schema, defaults, and their normalised form. No I/O.

Accepted backend forms (one at a time):

* nothing: ``redis://127.0.0.1:6379/0``;
* ``url``: one Redis (``redis://``, ``rediss://``, ``unix://``);
* ``urls``: several standard hosts (request queues round-robin, reply queues on a crc32 ring);
* ``sentinel``: ``{'hosts': [...], 'services': [...], 'failover_retries': n, 'sentinel_kwargs': {...}}``;
* ``cluster``: ``{'hosts': [seed, ...], 'failover_retries': n}``: a Redis Cluster (see :mod:`soa_redis._cluster`);
* PySOA's ``backend_type`` (``redis.standard`` / ``redis.sentinel``, or soa-core's ``redis.cluster``) with
  ``backend_layer_kwargs``.

``connection_kwargs`` (top level) go to every Redis connection of the other forms; PySOA's form
keeps them in ``backend_layer_kwargs``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

import attr
from conformity import fields
from conformity.error import ERROR_CODE_INVALID
from conformity.error import Error as SchemaError

from pysoa.common.serializer.base import Serializer
from pysoa.errors import ConfigurationError
from pysoa.plugins.reference import PluginReference
from soa_redis._framing import DEFAULT_PROTOCOL_VERSION, MINIMUM_CHUNK_THRESHOLD

__all__ = [
    "CLIENT_SETTINGS_SCHEMA",
    "DEFAULT_URL",
    "SERVER_SETTINGS_SCHEMA",
    "BackendConfig",
    "TransportOptions",
    "backend_config",
    "parse_redis_url",
    "transport_options",
]

DEFAULT_URL: Final = "redis://127.0.0.1:6379/0"
STANDARD: Final = "redis.standard"
SENTINEL: Final = "redis.sentinel"
CLUSTER: Final = "redis.cluster"
DEFAULT_REDIS_PORT: Final = 6379
DEFAULT_SENTINEL_PORT: Final = 26379
DEFAULT_SENTINEL_FAILOVER_RETRIES: Final = 5
DEFAULT_CLUSTER_FAILOVER_RETRIES: Final = 5

# PySOA's defaults for every Redis connection; socket_timeout is explicit because blocking reads
# are sized against it (see _backend).
DEFAULT_CONNECTION_KWARGS: Final[Mapping[str, Any]] = {
    "socket_connect_timeout": 5.0,
    "socket_timeout": 5.0,
    "socket_keepalive": True,
}
DEFAULT_SENTINEL_KWARGS: Final[Mapping[str, Any]] = {
    "socket_connect_timeout": 5.0,
    "socket_timeout": 5.0,
    "socket_keepalive": True,
}
# The host list decides where to connect; these would silently contradict it.
_FORBIDDEN_CONNECTION_KWARGS: Final = frozenset(
    {"host", "port", "unix_socket_path", "connection_pool", "single_connection_client", "url"}
)

CLIENT_DEFAULTS: Final[Mapping[str, Any]] = {
    "log_messages_larger_than_bytes": 102_400,
    "maximum_message_size_in_bytes": 102_400,
    "message_expiry_in_seconds": 60,
    "queue_capacity": 10_000,
    "queue_full_retries": 10,
    "receive_timeout_in_seconds": 5,
    "protocol_version": DEFAULT_PROTOCOL_VERSION,
}
SERVER_DEFAULTS: Final[Mapping[str, Any]] = {
    "log_messages_larger_than_bytes": 256_000,
    "maximum_message_size_in_bytes": 256_000,
    "message_expiry_in_seconds": 60,
    "queue_capacity": 10_000,
    "queue_full_retries": 10,
    "receive_timeout_in_seconds": 5,
    "chunk_messages_larger_than_bytes": -1,
}


# --- URLs and hosts --------------------------------------------------------------------------------

_URL_QUERY_CONVERTERS: Final[Mapping[str, Any]] = {
    "db": int,
    "socket_timeout": float,
    "socket_connect_timeout": float,
    "ssl_cert_reqs": str,
    "ssl_ca_certs": str,
    "ssl_certfile": str,
    "ssl_keyfile": str,
    "ssl_check_hostname": lambda raw: {"true": True, "false": False}[raw.lower()],
}


def parse_redis_url(url: str) -> dict[str, Any]:
    """Turn ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` or ``unix://[[user]:password@]/path``
    into Redis connection kwargs. Raises :class:`ConfigurationError` naming what is wrong.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"Invalid Redis URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("redis", "rediss", "unix"):
        raise ConfigurationError(f"Invalid Redis URL {url!r}: the scheme must be redis://, rediss:// or unix://")
    kwargs: dict[str, Any] = {}
    if parts.username:
        kwargs["username"] = unquote(parts.username)
    if parts.password is not None:
        kwargs["password"] = unquote(parts.password)
    if scheme == "unix":
        if not parts.path:
            raise ConfigurationError(f"Invalid Redis URL {url!r}: a unix:// URL needs a socket path")
        kwargs["unix_socket_path"] = unquote(parts.path)
    else:
        if not parts.hostname:
            raise ConfigurationError(f"Invalid Redis URL {url!r}: no host")
        kwargs["host"] = unquote(parts.hostname)
        kwargs["port"] = port if port is not None else DEFAULT_REDIS_PORT
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise ConfigurationError(f"Invalid Redis URL {url!r}: the path must be a database number")
            kwargs["db"] = int(path)
        if scheme == "rediss":
            kwargs["ssl"] = True
    for name, raw in parse_qsl(parts.query, keep_blank_values=True):
        converter = _URL_QUERY_CONVERTERS.get(name)
        if converter is None:
            raise ConfigurationError(
                f"Invalid Redis URL {url!r}: unsupported parameter {name!r} "
                f"(supported: {', '.join(sorted(_URL_QUERY_CONVERTERS))}; put others in connection_kwargs)"
            )
        try:
            kwargs[name] = converter(raw)
        except (KeyError, ValueError) as exc:
            raise ConfigurationError(f"Invalid Redis URL {url!r}: bad value for {name!r}: {raw!r}") from exc
    return kwargs


def _parse_host(entry: Any, default_port: int, allow_url: bool) -> dict[str, Any]:
    if isinstance(entry, list | tuple):
        if len(entry) != 2 or not isinstance(entry[0], str) or not _is_port(entry[1]):
            raise ConfigurationError(f"Invalid host {entry!r}: expected [host, port]")
        return {"host": entry[0], "port": entry[1]}
    if not isinstance(entry, str) or not entry:
        raise ConfigurationError(f"Invalid host {entry!r}: expected 'host', 'host:port', [host, port] or a URL")
    if "://" in entry:
        if not allow_url:
            raise ConfigurationError(f"Invalid Sentinel host {entry!r}: give 'host', 'host:port' or [host, port]")
        return parse_redis_url(entry)
    host, sep, port = entry.rpartition(":")
    if sep and host and ":" not in host and port.isdigit():
        return {"host": host, "port": int(port)}
    return {"host": entry, "port": default_port}


def _is_port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def _host_label(kwargs: Mapping[str, Any]) -> str:
    if "unix_socket_path" in kwargs:
        return f"unix://{kwargs['unix_socket_path']}"
    scheme = "rediss" if kwargs.get("ssl") else "redis"
    return f"{scheme}://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


# --- normalised backend ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BackendConfig:
    """Where the queues live.

    ``hosts`` are Redis connection kwargs (standard), Sentinel (host, port), or Redis Cluster seed
    nodes (host, port; ``cluster``), whose connections all use ``connection_kwargs``.
    """

    sentinel: bool
    hosts: tuple[dict[str, Any], ...]
    labels: tuple[str, ...]
    connection_kwargs: dict[str, Any] = field(default_factory=dict)
    sentinel_services: tuple[str, ...] | None = None
    sentinel_failover_retries: int = DEFAULT_SENTINEL_FAILOVER_RETRIES
    sentinel_kwargs: dict[str, Any] = field(default_factory=dict)
    cluster: bool = False
    cluster_failover_retries: int = DEFAULT_CLUSTER_FAILOVER_RETRIES

    @property
    def cache_key(self) -> str:
        """Equal for equal settings: transports with the same backend share its connections."""
        return json.dumps(
            [
                self.sentinel,
                self.hosts,
                self.connection_kwargs,
                self.sentinel_services,
                self.sentinel_failover_retries,
                self.sentinel_kwargs,
                self.cluster,
                self.cluster_failover_retries,
            ],
            sort_keys=True,
            default=repr,
        )


def _connection_kwargs(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{where} must be a dict")
    forbidden = sorted(_FORBIDDEN_CONNECTION_KWARGS.intersection(raw))
    if forbidden:
        raise ConfigurationError(
            f"{where} may not contain {', '.join(forbidden)}: the host list decides where to connect"
        )
    if raw.get("decode_responses"):
        raise ConfigurationError(f"{where}: decode_responses must stay False (frames are bytes)")
    return dict(raw)


def _standard(entries: list[Any], connection_kwargs: dict[str, Any], default_port: int) -> BackendConfig:
    if not entries:
        raise ConfigurationError("At least one Redis host is needed")
    hosts = []
    for entry in entries:
        # Connection kwargs first; what a URL says about its own host wins.
        hosts.append({**DEFAULT_CONNECTION_KWARGS, **connection_kwargs, **_parse_host(entry, default_port, True)})
    return BackendConfig(sentinel=False, hosts=tuple(hosts), labels=tuple(_host_label(h) for h in hosts))


def _sentinel(
    entries: list[Any] | None,
    services: list[str] | None,
    retries: int | None,
    sentinel_kwargs: Any,
    connection_kwargs: dict[str, Any],
    default_port: int,
) -> BackendConfig:
    parsed = [_parse_host(entry, default_port, False) for entry in (entries or ["localhost"])]
    if services is not None and (not services or len(set(services)) != len(services)):
        raise ConfigurationError("Sentinel services must be a non-empty list of distinct names")
    if sentinel_kwargs is not None and not isinstance(sentinel_kwargs, Mapping):
        raise ConfigurationError("sentinel_kwargs must be a dict")
    return BackendConfig(
        sentinel=True,
        hosts=tuple(parsed),
        labels=tuple(f"sentinel://{h['host']}:{h['port']}" for h in parsed),
        connection_kwargs={**DEFAULT_CONNECTION_KWARGS, **connection_kwargs},
        sentinel_services=tuple(services) if services is not None else None,
        sentinel_failover_retries=DEFAULT_SENTINEL_FAILOVER_RETRIES if retries is None else retries,
        sentinel_kwargs={**DEFAULT_SENTINEL_KWARGS, **(sentinel_kwargs or {})},
    )


def _cluster(entries: list[Any] | None, retries: int | None, connection_kwargs: dict[str, Any]) -> BackendConfig:
    """Seed nodes of a Redis Cluster; a seed URL's credentials and TLS options apply to every node."""
    seeds = []
    url_options: dict[str, Any] | None = None
    for entry in entries or ["localhost"]:
        parsed = _parse_host(entry, DEFAULT_REDIS_PORT, True)
        if "unix_socket_path" in parsed:
            raise ConfigurationError(f"Invalid Redis Cluster seed {entry!r}: Redis Cluster has no unix:// nodes")
        options = {key: value for key, value in parsed.items() if key not in ("host", "port")}
        if options.pop("db", 0) != 0:
            raise ConfigurationError(f"Invalid Redis Cluster seed {entry!r}: Redis Cluster has only database 0")
        if url_options is not None and options != url_options:
            raise ConfigurationError(
                "Redis Cluster seeds must agree on credentials and TLS (one set applies to every node); "
                "put them in connection_kwargs"
            )
        url_options = options
        seeds.append({"host": parsed["host"], "port": parsed["port"]})
    if connection_kwargs.get("db", 0) != 0:
        raise ConfigurationError("connection_kwargs: db must be 0 with Redis Cluster (it has only database 0)")
    kwargs = {key: value for key, value in connection_kwargs.items() if key != "db"}
    return BackendConfig(
        sentinel=False,
        cluster=True,
        hosts=tuple(seeds),
        labels=tuple(f"cluster seed {seed['host']}:{seed['port']}" for seed in seeds),
        connection_kwargs={**DEFAULT_CONNECTION_KWARGS, **kwargs, **(url_options or {})},
        cluster_failover_retries=DEFAULT_CLUSTER_FAILOVER_RETRIES if retries is None else retries,
    )


_PYSOA_SENTINEL_ONLY: Final = ("sentinel_services", "sentinel_failover_retries", "sentinel_kwargs")


def backend_config(settings: Mapping[str, Any]) -> BackendConfig:
    """Normalise the backend part of the transport settings. Raises :class:`ConfigurationError`."""
    forms = [
        key
        for key in ("url", "urls", "sentinel", "cluster", "backend_layer_kwargs")
        if key in settings and not (key == "backend_layer_kwargs" and "backend_type" in settings)
    ]
    if "backend_type" in settings:
        forms.append("backend_type")
    if len(forms) > 1:
        raise ConfigurationError(f"Give one backend form, not several: {', '.join(forms)}")
    top_kwargs = _connection_kwargs(settings.get("connection_kwargs"), "connection_kwargs")

    if "url" in settings:
        return _standard([settings["url"]], top_kwargs, DEFAULT_REDIS_PORT)
    if "urls" in settings:
        urls = settings["urls"]
        if not all(isinstance(url, str) and "://" in url for url in urls):
            raise ConfigurationError("urls must be a list of redis://, rediss:// or unix:// URLs")
        return _standard(list(urls), top_kwargs, DEFAULT_REDIS_PORT)
    if "sentinel" in settings:
        sentinel = settings["sentinel"]
        return _sentinel(
            sentinel.get("hosts"),
            sentinel.get("services"),
            sentinel.get("failover_retries"),
            sentinel.get("sentinel_kwargs"),
            top_kwargs,
            DEFAULT_SENTINEL_PORT,
        )
    if "cluster" in settings:
        cluster = settings["cluster"]
        return _cluster(cluster.get("hosts"), cluster.get("failover_retries"), top_kwargs)
    if "backend_type" in settings or "backend_layer_kwargs" in settings:
        if "connection_kwargs" in settings:
            raise ConfigurationError(
                "With backend_type/backend_layer_kwargs, put connection_kwargs inside backend_layer_kwargs"
            )
        return _pysoa_backend(settings.get("backend_type", STANDARD), settings.get("backend_layer_kwargs") or {})
    return _standard([DEFAULT_URL], top_kwargs, DEFAULT_REDIS_PORT)


def _pysoa_backend(backend_type: str, layer: Mapping[str, Any]) -> BackendConfig:
    connection_kwargs = _connection_kwargs(layer.get("connection_kwargs"), "backend_layer_kwargs.connection_kwargs")
    if "redis_db" in layer:
        connection_kwargs["db"] = layer["redis_db"]
    hosts = layer.get("hosts")
    if backend_type in (STANDARD, CLUSTER):
        misplaced = [key for key in _PYSOA_SENTINEL_ONLY if key in layer]
        if misplaced:
            raise ConfigurationError(f"{', '.join(misplaced)} only apply to backend_type {SENTINEL!r}")
    if backend_type == STANDARD:
        return _standard(list(hosts) if hosts else ["localhost"], connection_kwargs, layer.get("redis_port", 6379))
    if backend_type == CLUSTER:
        port = layer.get("redis_port", DEFAULT_REDIS_PORT)
        seeds = [[entry, port] if isinstance(entry, str) and ":" not in entry else entry for entry in hosts or []]
        return _cluster(seeds or [["localhost", port]], None, connection_kwargs)
    if backend_type == SENTINEL:
        return _sentinel(
            hosts,
            layer.get("sentinel_services"),
            layer.get("sentinel_failover_retries"),
            layer.get("sentinel_kwargs"),
            connection_kwargs,
            DEFAULT_SENTINEL_PORT,
        )
    raise ConfigurationError(f"backend_type must be {STANDARD!r}, {SENTINEL!r} or {CLUSTER!r}, not {backend_type!r}")


# --- transport options -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TransportOptions:
    """Validated, defaulted settings other than the backend."""

    log_messages_larger_than_bytes: int
    maximum_message_size_in_bytes: int
    message_expiry_in_seconds: float
    queue_capacity: int
    queue_full_retries: int
    receive_timeout_in_seconds: float
    default_serializer: Any
    protocol_version: int = DEFAULT_PROTOCOL_VERSION
    chunk_messages_larger_than_bytes: int | None = None


def _chunk_threshold(settings: Mapping[str, Any]) -> int | None:
    raw = settings.get("chunk_messages_larger_than_bytes", -1)
    if raw < 0:
        return None
    if raw < MINIMUM_CHUNK_THRESHOLD:
        raise ConfigurationError(
            f"chunk_messages_larger_than_bytes must be -1 (off) or at least {MINIMUM_CHUNK_THRESHOLD}, not {raw}"
        )
    return int(raw)


def transport_options(settings: Mapping[str, Any], server: bool) -> TransportOptions:
    """Apply defaults and cross-field rules. Raises :class:`ConfigurationError`."""
    values = {**(SERVER_DEFAULTS if server else CLIENT_DEFAULTS), **settings}
    threshold = _chunk_threshold(values) if server else None
    maximum = values["maximum_message_size_in_bytes"]
    if threshold is not None:
        if "maximum_message_size_in_bytes" not in settings:
            # Chunking exists to send large responses; PySOA wants five chunks' worth of room.
            maximum = max(maximum, 5 * threshold)
        elif maximum <= threshold:
            raise ConfigurationError(
                f"maximum_message_size_in_bytes ({maximum}) must exceed chunk_messages_larger_than_bytes ({threshold})"
            )
    protocol_version = int(values.get("protocol_version", DEFAULT_PROTOCOL_VERSION))
    serializer_ref = _SERIALIZER_FIELD.normalise(values.get("default_serializer_config", "msgpack"))
    return TransportOptions(
        log_messages_larger_than_bytes=values["log_messages_larger_than_bytes"],
        maximum_message_size_in_bytes=maximum,
        message_expiry_in_seconds=values["message_expiry_in_seconds"],
        queue_capacity=values["queue_capacity"],
        queue_full_retries=values["queue_full_retries"],
        receive_timeout_in_seconds=values["receive_timeout_in_seconds"],
        default_serializer=serializer_ref,
        protocol_version=protocol_version,
        chunk_messages_larger_than_bytes=threshold,
    )


# --- schema ------------------------------------------------------------------------------------------------


@attr.s
class _HostField(fields.Base):
    """A host: ``'host'``, ``'host:port'``, ``[host, port]`` / ``(host, port)`` or a Redis URL."""

    description: str | None = attr.ib(default=None)

    def errors(self, value: Any) -> list[SchemaError]:
        try:
            _parse_host(value, DEFAULT_REDIS_PORT, True)
        except ConfigurationError as exc:
            return [SchemaError(str(exc), code=ERROR_CODE_INVALID)]
        return []

    def introspect(self) -> dict[str, Any]:
        return {"type": "redis host", "description": self.description}


class _CrossFieldRules(fields.AdditionalCollectionValidator[Mapping[Hashable, Any]]):
    def __init__(self, server: bool) -> None:
        self.server = server

    def errors(self, value: Mapping[Hashable, Any]) -> list[SchemaError]:
        settings = {str(key): item for key, item in value.items()}
        try:
            backend_config(settings)
            transport_options(settings, self.server)
        except ConfigurationError as exc:
            return [SchemaError(str(exc), code=ERROR_CODE_INVALID)]
        return []


_SERIALIZER_FIELD: Final = PluginReference(
    kind="serializer",
    base_class=Serializer,
    description="Serializer for outgoing messages: a plugin name ('msgpack', 'json'), {'name': ...} or {'path': ...}",
)


def _kwargs_dict(description: str) -> fields.SchemalessDictionary:
    return fields.SchemalessDictionary(key_type=fields.UnicodeString(), description=description)


def _schema(server: bool) -> fields.Dictionary:
    def positive_seconds(description: str) -> fields.Any:
        return fields.Any(fields.Integer(gt=0), fields.Float(gt=0), description=description)

    contents: dict[Hashable, fields.Base] = {
        "url": fields.UnicodeString(description="One Redis: redis://, rediss:// (TLS) or unix:// URL"),
        "urls": fields.List(fields.UnicodeString(), min_length=1, description="Several standard Redis hosts, as URLs"),
        "sentinel": fields.Dictionary(
            {
                "hosts": fields.List(_HostField(), min_length=1, description="Sentinels; port 26379 by default"),
                "services": fields.List(fields.UnicodeString(), min_length=1, description="Master names"),
                "failover_retries": fields.Integer(gte=0),
                "sentinel_kwargs": _kwargs_dict("Connection kwargs for the Sentinels themselves"),
            },
            optional_keys=("services", "failover_retries", "sentinel_kwargs"),
            description="Redis Sentinel; masters are discovered with SENTINEL MASTERS when services is absent",
        ),
        "cluster": fields.Dictionary(
            {
                "hosts": fields.List(_HostField(), min_length=1, description="Seed nodes; port 6379 by default"),
                "failover_retries": fields.Integer(gte=0),
            },
            optional_keys=("hosts", "failover_retries"),
            description="Redis Cluster: the seeds are asked for the slot map; every key goes to its slot's master",
        ),
        "connection_kwargs": _kwargs_dict("redis-py connection kwargs (password, username, ssl_*, socket_*, db)"),
        "backend_type": fields.Constant(
            STANDARD, SENTINEL, CLUSTER, description="PySOA's backend selector (redis.cluster: soa-core only)"
        ),
        "backend_layer_kwargs": fields.Dictionary(
            {
                "hosts": fields.List(_HostField()),
                "connection_kwargs": _kwargs_dict("redis-py connection kwargs"),
                "redis_db": fields.Integer(gte=0),
                "redis_port": fields.Integer(gt=0, lt=65536),
                "sentinel_services": fields.List(fields.UnicodeString()),
                "sentinel_failover_retries": fields.Integer(gte=0),
                "sentinel_kwargs": _kwargs_dict("Connection kwargs for the Sentinels"),
            },
            optional_keys=(
                "hosts",
                "connection_kwargs",
                "redis_db",
                "redis_port",
                "sentinel_services",
                "sentinel_failover_retries",
                "sentinel_kwargs",
            ),
            description="PySOA's backend settings",
        ),
        "log_messages_larger_than_bytes": fields.Integer(gte=0, description="0 disables the oversize warning"),
        "maximum_message_size_in_bytes": fields.Integer(
            gt=0, description="Largest serialized message sent; a larger one fails before any Redis I/O"
        ),
        "message_expiry_in_seconds": positive_seconds(
            "How long a message may wait in its queue without a call timeout (the queue key's TTL)"
        ),
        "queue_capacity": fields.Integer(
            gt=0, description="Messages a queue may hold; a send to a full queue is retried"
        ),
        "queue_full_retries": fields.Integer(gte=0, description="Retries, with backoff, of a send to a full queue"),
        "receive_timeout_in_seconds": positive_seconds(
            "How long one receive waits (client: for a response to a call with no timeout; server: one idle cycle)"
        ),
        "default_serializer_config": _SERIALIZER_FIELD,
    }
    if server:
        contents["chunk_messages_larger_than_bytes"] = fields.Integer(
            gte=-1, description=f"-1 (off) or at least {MINIMUM_CHUNK_THRESHOLD}: chunk larger responses to v3 clients"
        )
    else:
        contents["protocol_version"] = fields.Integer(gte=1, lte=3, description="Framing of requests (1, 2 or 3)")
    return fields.Dictionary(
        contents,
        optional_keys=tuple(contents),
        additional_validator=_CrossFieldRules(server),
        description="Redis transport settings",
    )


CLIENT_SETTINGS_SCHEMA: Final = _schema(server=False)
SERVER_SETTINGS_SCHEMA: Final = _schema(server=True)
