"""The transport's settings: schemas, defaults, and their normalised form. No I/O.

Client and server share the endpoint, size limit, high-water marks, heartbeats and CURVE keys.
Each side's ``curve_public_key``/``curve_secret_key`` is its *own* key pair; a client also names
the server's public key. See the README for what each setting does.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from conformity import fields
from conformity.error import ERROR_CODE_INVALID
from conformity.error import Error as SchemaError

from pysoa.common.serializer.base import Serializer
from pysoa.errors import ConfigurationError
from pysoa.plugins.reference import PluginReference

if TYPE_CHECKING:
    from soa_zmq.router import RouterConfig

__all__ = [
    "CLIENT_SETTINGS_SCHEMA",
    "SERVER_SETTINGS_SCHEMA",
    "ClientOptions",
    "CurveKeys",
    "ServerOptions",
    "check_endpoint",
    "client_options",
    "server_options",
]

DEFAULT_MAXIMUM_MESSAGE_SIZE: Final = 1024 * 1024
# The longest ipc:// path Linux accepts (sockaddr_un.sun_path holds 108 bytes with the final NUL).
_MAX_IPC_PATH: Final = 107
_Z85_KEY_LENGTH: Final = 40

COMMON_DEFAULTS: Final[Mapping[str, Any]] = {
    "default_serializer_config": "msgpack",
    "maximum_message_size_in_bytes": DEFAULT_MAXIMUM_MESSAGE_SIZE,
    "send_high_water_mark": 1000,
    "receive_high_water_mark": 1000,
    "heartbeat_interval_in_seconds": 1.0,
    "heartbeat_liveness": 3,
}
CLIENT_DEFAULTS: Final[Mapping[str, Any]] = {
    **COMMON_DEFAULTS,
    "message_expiry_in_seconds": 60.0,
    "receive_timeout_in_seconds": 5.0,
    "use_leases": True,
}
SERVER_DEFAULTS: Final[Mapping[str, Any]] = {
    **COMMON_DEFAULTS,
    "role": "auto",
    # Short, so that a worker notices a shutdown signal promptly (the server checks between receives).
    "receive_timeout_in_seconds": 1.0,
    "router_idle_exit_in_seconds": 30.0,
    # How long a worker keeps a lease its lessee does not use. Long enough to span a sequential
    # caller's own work between two calls (typically well under a millisecond to a few ms), short
    # enough that an unused worker soon rejoins the idle queue, where any client's request reaches
    # it without the REVOKE round trip.
    "lease_hold_time_in_seconds": 0.01,
}


@dataclass(frozen=True)
class CurveKeys:
    """Z85-encoded CURVE keys (ASCII bytes, as libzmq takes them)."""

    public_key: bytes
    secret_key: bytes
    server_public_key: bytes
    # Server side only: None lets any client that completes a CURVE handshake in (encryption only).
    allowed_client_keys: frozenset[bytes] | None = None


@dataclass(frozen=True)
class _CommonOptions:
    endpoint: str
    serializer: dict[str, Any]  # a normalised plugin reference: {'object': cls, 'kwargs': {...}, ...}
    maximum_message_size_in_bytes: int
    send_high_water_mark: int
    receive_high_water_mark: int
    heartbeat_interval_in_seconds: float
    heartbeat_liveness: int
    curve: CurveKeys | None

    @property
    def heartbeat_timeout_in_seconds(self) -> float:
        """Silence after which a peer counts as dead."""
        return self.heartbeat_interval_in_seconds * self.heartbeat_liveness


@dataclass(frozen=True)
class ClientOptions(_CommonOptions):
    message_expiry_in_seconds: float
    receive_timeout_in_seconds: float
    use_leases: bool


@dataclass(frozen=True)
class ServerOptions(_CommonOptions):
    role: str
    backend_endpoint: str
    lock_file: str
    receive_timeout_in_seconds: float
    router_idle_exit_in_seconds: float | None
    router_log_file: str | None
    # None: this worker offers no leases
    lease_hold_time_in_seconds: float | None

    def router_config(self) -> RouterConfig:
        """What this service's router needs."""
        from soa_zmq.router import RouterConfig

        curve = self.curve
        return RouterConfig(
            endpoint=self.endpoint,
            backend_endpoint=self.backend_endpoint,
            lock_file=self.lock_file,
            maximum_message_size_in_bytes=self.maximum_message_size_in_bytes,
            send_high_water_mark=self.send_high_water_mark,
            receive_high_water_mark=self.receive_high_water_mark,
            heartbeat_interval_in_seconds=self.heartbeat_interval_in_seconds,
            heartbeat_liveness=self.heartbeat_liveness,
            idle_exit_in_seconds=self.router_idle_exit_in_seconds,
            log_file=self.router_log_file,
            curve_public_key=None if curve is None else curve.public_key,
            curve_secret_key=None if curve is None else curve.secret_key,
            curve_allowed_client_keys=None if curve is None else curve.allowed_client_keys,
        )


# --- checks ----------------------------------------------------------------------------------------


def check_endpoint(endpoint: Any, binding: bool) -> str:
    """Return ``endpoint`` if it is a usable ``tcp://`` or ``ipc://`` endpoint, else raise :class:`ConfigurationError`.

    ``binding`` allows ``tcp://*:port`` (all interfaces); a connecting side needs a host.
    """
    if not isinstance(endpoint, str):
        raise ConfigurationError(f"Endpoint {endpoint!r} is not a string")
    scheme, sep, address = endpoint.partition("://")
    if not sep or scheme not in ("tcp", "ipc"):
        raise ConfigurationError(f"Endpoint {endpoint!r} must start with tcp:// or ipc://")
    if scheme == "ipc":
        if not address:
            raise ConfigurationError(f"Endpoint {endpoint!r} has no path")
        if len(address.encode()) > _MAX_IPC_PATH:
            raise ConfigurationError(f"Endpoint {endpoint!r}: ipc paths may have at most {_MAX_IPC_PATH} bytes")
        return endpoint
    host, colon, port = address.rpartition(":")
    if not colon or not host:
        raise ConfigurationError(f"Endpoint {endpoint!r} must be tcp://host:port")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"Endpoint {endpoint!r}: the port must be a number from 1 to 65535")
    if host == "*" and not binding:
        raise ConfigurationError(f"Endpoint {endpoint!r}: a client must name the host it connects to")
    return endpoint


def _check_key(value: Any, setting: str) -> bytes:
    if not isinstance(value, str) or len(value) != _Z85_KEY_LENGTH:
        raise ConfigurationError(f"{setting} must be a {_Z85_KEY_LENGTH}-character Z85 CURVE key")
    from zmq.utils import z85

    try:
        z85.decode(value.encode("ascii"))
    except (ValueError, KeyError, UnicodeEncodeError):
        raise ConfigurationError(f"{setting} is not valid Z85 text") from None
    return value.encode("ascii")


def _curve(values: Mapping[str, Any], server: bool) -> CurveKeys | None:
    names = ("curve_public_key", "curve_secret_key") + (() if server else ("curve_server_public_key",))
    present = [name for name in names if values.get(name) is not None]
    if server and values.get("curve_client_public_keys") is not None and not present:
        raise ConfigurationError("curve_client_public_keys needs curve_public_key and curve_secret_key")
    if not present:
        return None
    missing = [name for name in names if name not in present]
    if missing:
        raise ConfigurationError(f"CURVE needs all of {', '.join(names)}; missing {', '.join(missing)}")
    public_key = _check_key(values["curve_public_key"], "curve_public_key")
    secret_key = _check_key(values["curve_secret_key"], "curve_secret_key")
    from zmq import curve_public

    if curve_public(secret_key) != public_key:
        raise ConfigurationError("curve_public_key is not the public key of curve_secret_key")
    if not server:
        server_key = _check_key(values["curve_server_public_key"], "curve_server_public_key")
        return CurveKeys(public_key, secret_key, server_key)
    allowed = values.get("curve_client_public_keys")
    allowed_keys = None
    if allowed is not None:
        allowed_keys = frozenset(
            _check_key(key, f"curve_client_public_keys[{index}]") for index, key in enumerate(allowed)
        )
    return CurveKeys(public_key, secret_key, public_key, allowed_keys)


def _derived_paths(endpoint: str) -> tuple[str, str]:
    """The default backend endpoint and router lock file for a frontend ``endpoint``.

    An ipc frontend gets both beside its socket file (its directory's permissions then guard them
    too); a tcp frontend gets them in the temporary directory, named after a hash of the endpoint.
    """
    scheme, _, address = endpoint.partition("://")
    if scheme == "ipc" and not address.startswith("@") and len(address.encode()) + len(".workers") <= _MAX_IPC_PATH:
        return f"ipc://{address}.workers", f"{address}.lock"
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
    base = os.path.join(tempfile.gettempdir(), f"soa-zmq-{digest}")
    return f"ipc://{base}.workers", f"{base}.lock"


def _common(values: Mapping[str, Any], server: bool) -> dict[str, Any]:
    return {
        "endpoint": check_endpoint(values["endpoint"], binding=server),
        "serializer": _SERIALIZER_FIELD.normalise(values["default_serializer_config"]),
        "maximum_message_size_in_bytes": int(values["maximum_message_size_in_bytes"]),
        "send_high_water_mark": int(values["send_high_water_mark"]),
        "receive_high_water_mark": int(values["receive_high_water_mark"]),
        "heartbeat_interval_in_seconds": float(values["heartbeat_interval_in_seconds"]),
        "heartbeat_liveness": int(values["heartbeat_liveness"]),
        "curve": _curve(values, server),
    }


def client_options(kwargs: Mapping[str, Any]) -> ClientOptions:
    """Normalise client kwargs (already schema-checked). Raises :class:`ConfigurationError`."""
    if "endpoint" not in kwargs:
        raise ConfigurationError("The zmq transport needs an 'endpoint' (tcp://host:port or ipc:///path)")
    values = {**CLIENT_DEFAULTS, **kwargs}
    return ClientOptions(
        **_common(values, server=False),
        message_expiry_in_seconds=float(values["message_expiry_in_seconds"]),
        receive_timeout_in_seconds=float(values["receive_timeout_in_seconds"]),
        use_leases=bool(values["use_leases"]),
    )


def server_options(kwargs: Mapping[str, Any]) -> ServerOptions:
    """Normalise server kwargs (already schema-checked). Raises :class:`ConfigurationError`."""
    if "endpoint" not in kwargs:
        raise ConfigurationError("The zmq transport needs an 'endpoint' (tcp://host:port or ipc:///path)")
    values = {**SERVER_DEFAULTS, **kwargs}
    common = _common(values, server=True)
    default_backend, lock_file = _derived_paths(common["endpoint"])
    backend = values.get("backend_endpoint") or default_backend
    check_endpoint(backend, binding=True)
    if backend == common["endpoint"]:
        raise ConfigurationError("backend_endpoint must differ from endpoint")
    idle_exit = values["router_idle_exit_in_seconds"]
    hold = values["lease_hold_time_in_seconds"]
    return ServerOptions(
        **common,
        role=values["role"],
        backend_endpoint=backend,
        lock_file=values.get("router_lock_file") or lock_file,
        receive_timeout_in_seconds=float(values["receive_timeout_in_seconds"]),
        router_idle_exit_in_seconds=None if idle_exit is None else float(idle_exit),
        router_log_file=values.get("router_log_file"),
        lease_hold_time_in_seconds=None if hold is None else float(hold),
    )


# --- schemas -----------------------------------------------------------------------------------------


_SERIALIZER_FIELD: Final = PluginReference(
    kind="serializer",
    base_class=Serializer,
    description="Serializer for outgoing messages: a plugin name ('msgpack', 'json'), {'name': ...} or {'path': ...}",
)


class _CrossFieldRules(fields.AdditionalCollectionValidator[Mapping[Hashable, Any]]):
    """Checks what one field cannot: endpoints, key pairs, all-or-none CURVE settings."""

    def __init__(self, server: bool) -> None:
        self.server = server

    def errors(self, value: Mapping[Hashable, Any]) -> list[SchemaError]:
        settings = {str(key): item for key, item in value.items()}
        try:
            if self.server:
                server_options(settings)
            else:
                client_options(settings)
        except ConfigurationError as exc:
            return [SchemaError(str(exc), code=ERROR_CODE_INVALID)]
        return []


def _schema(server: bool) -> fields.Dictionary:
    seconds = fields.Any(fields.Integer(gt=0), fields.Float(gt=0))
    key = fields.UnicodeString(description="A 40-character Z85 CURVE key")
    contents: dict[Hashable, fields.Base] = {
        "endpoint": fields.UnicodeString(
            description="tcp://host:port or ipc:///path; "
            + ("the router binds it (tcp://*:port binds every interface)" if server else "the service's endpoint")
        ),
        "default_serializer_config": _SERIALIZER_FIELD,
        "maximum_message_size_in_bytes": fields.Integer(
            gt=0, description="Largest serialized message sent or accepted (default 1 MiB)"
        ),
        "send_high_water_mark": fields.Integer(gt=0, description="Messages queued per connection for sending"),
        "receive_high_water_mark": fields.Integer(gt=0, description="Messages queued per connection on receipt"),
        "heartbeat_interval_in_seconds": seconds,
        "heartbeat_liveness": fields.Integer(gte=2, description="Missed heartbeats before a peer counts as dead"),
        "receive_timeout_in_seconds": seconds,
        "curve_public_key": key,
        "curve_secret_key": key,
    }
    if server:
        contents.update(
            {
                "role": fields.Constant(
                    "auto",
                    "worker",
                    "standalone",
                    description=(
                        "auto: a worker behind the service's router, starting it if none runs; worker: only "
                        "connect to a router run by someone else; standalone: this one process binds the "
                        "endpoint and serves clients directly (fastest, no load balancing)"
                    ),
                ),
                "backend_endpoint": fields.UnicodeString(
                    description="Where workers meet the router (default: an ipc socket beside endpoint)"
                ),
                "router_lock_file": fields.UnicodeString(description="The file whose lock elects the one router"),
                "router_idle_exit_in_seconds": fields.Nullable(
                    fields.Any(
                        fields.Integer(gt=0),
                        fields.Float(gt=0),
                        description="A router a worker started exits this long after its last worker left",
                    )
                ),
                "router_log_file": fields.Nullable(fields.UnicodeString(description="Where a started router logs")),
                "lease_hold_time_in_seconds": fields.Nullable(
                    fields.Any(
                        fields.Integer(gt=0),
                        fields.Float(gt=0),
                        description=(
                            "A worker behind the router leases itself to the client it answered for this long "
                            "(the client's next call goes straight to it); null: no leases"
                        ),
                    )
                ),
                "curve_client_public_keys": fields.Nullable(
                    fields.List(key, description="Clients allowed in; absent or null: any client key (encryption only)")
                ),
            }
        )
    else:
        contents.update(
            {
                "message_expiry_in_seconds": seconds,
                "curve_server_public_key": key,
                "use_leases": fields.Boolean(
                    description="Take the lease offers of workers behind a router (calls then skip the router)"
                ),
            }
        )
    return fields.Dictionary(
        contents,
        optional_keys=tuple(key for key in contents if key != "endpoint"),
        additional_validator=_CrossFieldRules(server),
        description="ZeroMQ transport settings",
    )


CLIENT_SETTINGS_SCHEMA: Final = _schema(server=False)
SERVER_SETTINGS_SCHEMA: Final = _schema(server=True)
