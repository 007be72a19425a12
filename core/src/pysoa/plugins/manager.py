"""A typed facade over :class:`pluggy.PluginManager` that finds plugin classes by name."""

from __future__ import annotations

import difflib
import importlib.metadata
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import pluggy

from pysoa.errors import DuplicatePluginError, PluginError, UnknownPluginError
from pysoa.plugins import hookspecs

__all__ = [
    "BLOCK_ENV_VAR",
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginManager",
    "get_plugin_manager",
    "set_plugin_manager",
]

ENTRY_POINT_GROUP: Final = "pysoa"
# Comma-separated entry-point names (e.g. "redis,json") that are never loaded.
BLOCK_ENV_VAR: Final = "PYSOA_DISABLE_PLUGINS"

# First-party plugin names and the distribution that brings each, for "install X" hints.
_FIRST_PARTY: Final = {"local": "soa-local", "redis": "soa-redis", "zmq": "soa-zmq", "json": "soa-json"}

KINDS: Final = (
    "client transport",
    "server transport",
    "serializer",
    "client middleware",
    "server middleware",
)


@dataclass(frozen=True)
class PluginInfo:
    """One registered class, as ``soa plugins`` lists it."""

    kind: str
    name: str
    cls: type
    distribution: str
    version: str

    @property
    def class_path(self) -> str:
        return f"{self.cls.__module__}:{self.cls.__qualname__}"


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class PluginManager:
    """Finds transports, serializers and middleware by name.

    Entry points are loaded the first time any lookup needs them, never at import time. Build one
    with ``autoload=False`` to see only the built-ins plus what you :meth:`register` (tests do).
    """

    def __init__(self, *, autoload: bool = True, blocked: Iterable[str] | None = None) -> None:
        self._autoload = autoload
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._blocked = set(blocked) if blocked is not None else _blocked_from_environment()
        for name in self._blocked:
            self._pm.set_blocked(name)
        self._lock = threading.RLock()
        self._registry: dict[str, dict[str, PluginInfo]] | None = None
        self._by_mime_type: dict[str, PluginInfo] = {}
        self._extra: list[tuple[object, str | None]] = []
        self._distributions: dict[int, tuple[str, str]] = {}

    # --- registration ---------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin module or object (in addition to entry points); takes effect at once."""
        with self._lock:
            self._extra.append((plugin, name))
            self._registry = None

    @property
    def blocked(self) -> frozenset[str]:
        return frozenset(self._blocked)

    def _load(self) -> dict[str, dict[str, PluginInfo]]:
        registry = self._registry
        if registry is not None:
            return registry
        with self._lock:
            if self._registry is not None:
                return self._registry
            from pysoa.plugins import builtin

            pm = self._pm
            if not pm.is_registered(builtin):
                pm.register(builtin, name="pysoa-builtin")
            if self._autoload:
                self._load_entry_points()
            for plugin, name in self._extra:
                if not pm.is_registered(plugin):
                    pm.register(plugin, name=name)
            try:
                pm.check_pending()
            except pluggy.PluginValidationError as exc:
                raise PluginError(
                    f"Plugin {exc.plugin!r} implements an unknown hook (misspelled?): {exc}. "
                    f"Known hooks: {', '.join(hookspecs.__all__)}"
                ) from exc
            self._registry = self._build_registry()
            return self._registry

    def _load_entry_points(self) -> None:
        for dist in importlib.metadata.distributions():
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP or ep.name in self._blocked or self._pm.has_plugin(ep.name):
                    continue
                try:
                    plugin = ep.load()
                except Exception as exc:
                    raise PluginError(
                        f"Could not load plugin {ep.name!r} ({ep.value}) of {dist.metadata['Name']} "
                        f"{dist.version}: {type(exc).__name__}: {exc}"
                    ) from exc
                self._pm.register(plugin, name=ep.name)
                self._distributions[id(plugin)] = (dist.metadata["Name"], dist.version)

    def _distribution_of(self, plugin: object) -> tuple[str, str]:
        known = self._distributions.get(id(plugin))
        if known is not None:
            return known
        module = getattr(plugin, "__name__", type(plugin).__module__)
        top = module.split(".")[0]
        for dist_name in importlib.metadata.packages_distributions().get(top, []):
            return dist_name, importlib.metadata.version(dist_name)
        return "(unknown)", ""

    def _build_registry(self) -> dict[str, dict[str, PluginInfo]]:
        from pysoa.client.middleware import ClientMiddleware
        from pysoa.common.serializer.base import Serializer
        from pysoa.common.transport.base import ClientTransport, ServerTransport
        from pysoa.server.middleware import ServerMiddleware

        registry: dict[str, dict[str, PluginInfo]] = {kind: {} for kind in KINDS}
        by_mime: dict[str, PluginInfo] = {}
        hook_bases: list[tuple[str, list[tuple[str, type]]]] = [
            (
                "pysoa_register_transports",
                [("client transport", ClientTransport), ("server transport", ServerTransport)],
            ),
            ("pysoa_register_serializers", [("serializer", Serializer)]),
            (
                "pysoa_register_middleware",
                [("client middleware", ClientMiddleware), ("server middleware", ServerMiddleware)],
            ),
        ]
        for hook_name, bases in hook_bases:
            caller = getattr(self._pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                dist, version = self._distribution_of(impl.plugin)
                classes = impl.function() or []
                for cls in classes:
                    kind = next((k for k, base in bases if isinstance(cls, type) and issubclass(cls, base)), None)
                    if kind is None:
                        expected = " or ".join(base.__name__ for _, base in bases)
                        raise PluginError(
                            f"{hook_name} of plugin {impl.plugin_name!r} returned {cls!r}, "
                            f"which is not a subclass of {expected}"
                        )
                    name = getattr(cls, "name", "")
                    if not isinstance(name, str) or not name:
                        raise PluginError(f"{kind} class {_class_path(cls)} has no 'name'")
                    info = PluginInfo(kind, name, cls, dist, version)
                    existing = registry[kind].get(name)
                    if existing is not None and existing.cls is not cls:
                        raise DuplicatePluginError(
                            f"Two {kind} plugins claim the name {name!r}: "
                            f"{existing.class_path} ({existing.distribution}) and {info.class_path} ({dist})"
                        )
                    registry[kind][name] = info
                    if kind == "serializer":
                        mime = getattr(cls, "mime_type", "")
                        other = by_mime.get(mime)
                        if other is not None and other.cls is not cls:
                            raise DuplicatePluginError(
                                f"Two serializers claim the MIME type {mime!r}: "
                                f"{other.class_path} and {info.class_path}"
                            )
                        by_mime[mime] = info
        self._by_mime_type = by_mime
        return registry

    # --- lookups ------------------------------------------------------------------------------

    def _get(self, kind: str, name: str) -> type:
        found = self._load()[kind].get(name)
        if found is not None:
            return found.cls
        raise UnknownPluginError(self._unknown_message(kind, name))

    def _unknown_message(self, kind: str, name: str) -> str:
        installed = sorted(self._load()[kind])
        message = f"No {kind} plugin named {name!r} is installed"
        message += f"; installed: {', '.join(installed)}" if installed else "; none is installed"
        close = difflib.get_close_matches(name, installed, n=1)
        if close:
            message += f". Did you mean {close[0]!r}?"
        elif name in _FIRST_PARTY:
            message += f". Install it with: pip install {_FIRST_PARTY[name]}"
        if name in self._blocked:
            message += f" (it is blocked by {BLOCK_ENV_VAR})"
        return message

    def client_transport(self, name: str) -> type[Any]:
        return self._get("client transport", name)

    def server_transport(self, name: str) -> type[Any]:
        return self._get("server transport", name)

    def serializer(self, name: str) -> type[Any]:
        return self._get("serializer", name)

    def client_middleware(self, name: str) -> type[Any]:
        return self._get("client middleware", name)

    def server_middleware(self, name: str) -> type[Any]:
        return self._get("server middleware", name)

    def get(self, kind: str, name: str) -> type[Any]:
        """Look up by kind (one of :data:`KINDS`) and name."""
        if kind not in KINDS:
            raise ValueError(f"Unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")
        return self._get(kind, name)

    def serializer_for_mime_type(self, mime_type: str) -> type[Any] | None:
        """The serializer class for a wire content type, or ``None`` when none is installed."""
        self._load()
        info = self._by_mime_type.get(mime_type)
        return info.cls if info is not None else None

    def names(self, kind: str) -> list[str]:
        return sorted(self._load()[kind])

    def transports(self) -> Mapping[str, PluginInfo]:
        """Client transports by name (a transport's server side is :meth:`server_transport`)."""
        return dict(self._load()["client transport"])

    def serializers(self) -> Mapping[str, PluginInfo]:
        return dict(self._load()["serializer"])

    def middleware(self) -> Mapping[str, PluginInfo]:
        registry = self._load()
        return {**registry["server middleware"], **registry["client middleware"]}

    def describe(self) -> list[PluginInfo]:
        """Every registered class, sorted by kind then name."""
        registry = self._load()
        return [info for kind in KINDS for _, info in sorted(registry[kind].items())]


def _blocked_from_environment() -> set[str]:
    raw = os.environ.get(BLOCK_ENV_VAR, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


_default_manager: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (built on first use)."""
    global _default_manager
    manager = _default_manager
    if manager is None:
        with _default_lock:
            if _default_manager is None:
                _default_manager = PluginManager()
            manager = _default_manager
    return manager


def set_plugin_manager(manager: PluginManager | None) -> PluginManager | None:
    """Replace the process-wide manager (``None`` resets it); returns the previous one."""
    global _default_manager
    with _default_lock:
        previous, _default_manager = _default_manager, manager
    return previous
