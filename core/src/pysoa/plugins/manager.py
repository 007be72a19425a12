"""A typed facade over :class:`pluggy.PluginManager` that finds plugin classes by kind and name."""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import os
import threading
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import pluggy

from pysoa.errors import DuplicatePluginError, PluginError, UnknownPluginError
from pysoa.plugins import hookspecs
from pysoa.plugins._markers import PROJECT_NAME

if TYPE_CHECKING:
    from pysoa.common.middleware.client import ClientMiddleware
    from pysoa.common.middleware.server import ServerMiddleware
    from pysoa.common.serializer.base import Serializer
    from pysoa.common.transport.async_base import AsyncClientTransport, AsyncServerTransport
    from pysoa.common.transport.base import ClientTransport, ServerTransport

__all__ = [
    "BLOCK_ENV_VAR",
    "BUILTIN_PLUGIN_NAME",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "PluginInfo",
    "PluginManager",
    "PluginPair",
    "get_plugin_manager",
    "set_plugin_manager",
]

ENTRY_POINT_GROUP: Final = "pysoa"
# Comma-separated plugin (entry-point) names, e.g. "redis,json", that are never imported.
BLOCK_ENV_VAR: Final = "PYSOA_DISABLE_PLUGINS"
# The name soa-core's own plugin module is registered under.
BUILTIN_PLUGIN_NAME: Final = "pysoa-builtin"

# First-party plugin names and the distribution that brings each, for "install X" hints.
_FIRST_PARTY: Final = {"local": "soa-local", "redis": "soa-redis", "zmq": "soa-zmq", "json": "soa-json"}

KINDS: Final = (
    "client transport",
    "server transport",
    "serializer",
    "client middleware",
    "server middleware",
    "async client transport",
    "async server transport",
    "async client middleware",
)

_HOOK_PREFIX: Final = f"{PROJECT_NAME}_"


@dataclass(frozen=True)
class PluginInfo:
    """One registered class, as ``soa plugins`` lists it.

    ``plugin`` is the name the providing plugin is registered under (its entry-point name; that is
    the name :data:`BLOCK_ENV_VAR` takes). ``distribution`` and ``version`` are ``None`` for a
    plugin registered in code with :meth:`PluginManager.register`.
    """

    kind: str
    name: str
    cls: type
    plugin: str
    distribution: str | None
    version: str | None

    @property
    def class_path(self) -> str:
        return f"{self.cls.__module__}:{self.cls.__qualname__}"

    def as_dict(self) -> dict[str, str | None]:
        """A JSON-friendly row."""
        return {
            "kind": self.kind,
            "name": self.name,
            "class": self.class_path,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
        }


@dataclass(frozen=True)
class PluginPair:
    """The client and server classes registered under one name; either side may be missing."""

    name: str
    client: PluginInfo | None
    server: PluginInfo | None


@dataclass(frozen=True)
class _Source:
    distribution: str | None
    version: str | None
    label: str  # how errors name the plugin: "'redis' (soa-redis 1.0: soa_redis.hooks)"


class _Registry:
    def __init__(self) -> None:
        self.by_kind: dict[str, dict[str, PluginInfo]] = {kind: {} for kind in KINDS}
        self.by_mime_type: dict[str, PluginInfo] = {}


class _PluggyManager(pluggy.PluginManager):
    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(_HOOK_PREFIX):
            # A ``pysoa_*`` function without the marker is taken as a hook implementation (as pytest
            # does with ``pytest_*``), so that check_pending() reports it if its name is misspelled
            # instead of it being silently ignored.
            attribute = inspect.getattr_static(plugin, name, None)
            if isinstance(attribute, types.FunctionType | staticmethod | classmethod):
                return cast(pluggy.HookimplOpts, {})
        return opts


class PluginManager:
    """Finds transports, serializers and middleware by kind and name.

    Nothing is imported when the manager is built: entry points of the ``pysoa`` group are loaded,
    and every registration hook is called, on the first lookup. Names in ``blocked`` (by default
    the comma-separated :data:`BLOCK_ENV_VAR`) are never imported. Build one with
    ``autoload=False`` to see only soa-core's built-ins plus what you :meth:`register` (tests do).

    Every lookup raises :class:`~pysoa.errors.PluginError` when the plugins cannot be loaded: an
    entry point fails to import, a hook implementation is misspelled or returns something other
    than named subclasses of the kind's base class, or two classes claim one name.
    """

    def __init__(self, *, autoload: bool = True, blocked: Iterable[str] | None = None) -> None:
        self._autoload = autoload
        if isinstance(blocked, str):
            raise TypeError("blocked must be an iterable of names, not a str")
        self._blocked = frozenset(blocked) if blocked is not None else _blocked_from_environment()
        self._pm = _PluggyManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        for name in self._blocked:
            self._pm.set_blocked(name)
        self._lock = threading.RLock()
        self._registry: _Registry | None = None
        self._sources: dict[str, _Source] = {}
        self._entry_points_loaded = False
        self._entry_points: dict[str, _Source] = {}  # entry-point name -> where it came from
        self._extra: list[tuple[object, str | None]] = []

    def __repr__(self) -> str:
        blocked = ", ".join(sorted(self._blocked))
        return f"<{type(self).__name__} autoload={self._autoload} blocked=[{blocked}]>"

    @property
    def autoload(self) -> bool:
        return self._autoload

    @property
    def blocked(self) -> frozenset[str]:
        return self._blocked

    # --- registration ---------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin module or object besides the entry points; the next lookup sees it.

        ``name`` defaults to the module's name. A blocked name is ignored, as for entry points.
        """
        with self._lock:
            self._extra.append((plugin, name))
            self._registry = None

    def _load(self) -> _Registry:
        registry = self._registry
        if registry is not None:
            return registry
        with self._lock:
            if self._registry is None:
                self._register_pending()
                self._registry = self._collect()
            return self._registry

    def _register_pending(self) -> None:
        from pysoa.plugins import builtin
        from pysoa.version import __version__

        if not self._pm.is_registered(builtin):
            self._register(builtin, BUILTIN_PLUGIN_NAME, _Source("soa-core", __version__, "soa-core's built-ins"))
        if self._autoload and not self._entry_points_loaded:
            self._load_entry_points()
            self._entry_points_loaded = True
        for plugin, name in self._extra:
            if not self._pm.is_registered(plugin):
                self._register(plugin, name, None)
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(self._unknown_hooks_message()) from exc

    def _unknown_hooks_message(self) -> str:
        known = _hook_names()
        problems = []
        for hook_name, caller in sorted(vars(self._pm.hook).items()):
            if hook_name.startswith("_") or caller.has_spec():
                continue
            close = difflib.get_close_matches(hook_name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            for impl in caller.get_hookimpls():
                label = self._label(impl.plugin_name)
                problems.append(f"plugin {label} implements {hook_name!r}{hint}{self._block_hint(impl.plugin_name)}")
        return f"Unknown hook, misspelled? {'; '.join(problems)}. Known hooks: {', '.join(known)}"

    def _register(self, plugin: object, name: str | None, source: _Source | None) -> None:
        shown = name or self._pm.get_canonical_name(plugin)
        if source is None:
            source = _Source(None, None, repr(shown))
        try:
            registered = self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            details = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise PluginError(f"Plugin {source.label} has an invalid hook implementation: {details}") from exc
        except ValueError as exc:
            raise PluginError(f"Cannot register plugin {source.label}: {exc}") from exc
        if registered is not None:
            self._sources[registered] = source

    def _load_entry_points(self) -> None:
        entry_points = sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
            key=lambda ep: (ep.name, _dist_name(ep.dist)),
        )
        for ep in entry_points:
            dist_name, version = _dist_name(ep.dist), (ep.dist.version if ep.dist is not None else None)
            source = _Source(dist_name, version, f"{ep.name!r} ({dist_name} {version}: {ep.value})")
            if self._pm.is_blocked(ep.name):
                continue
            already = self._entry_points.get(ep.name)
            if already is not None:
                if already.distribution == dist_name:
                    continue  # registered by an earlier, partly failed, load
                raise DuplicatePluginError(
                    f"Two distributions declare the {ENTRY_POINT_GROUP!r} entry point {ep.name!r}: "
                    f"{already.label} and {source.label}; uninstall one of them"
                )
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"Could not import plugin {source.label}: {type(exc).__name__}: {exc}{_block_hint(ep.name)}"
                ) from exc
            self._register(plugin, ep.name, source)
            self._entry_points[ep.name] = source

    def _block_hint(self, plugin_name: str) -> str:
        return _block_hint(plugin_name) if plugin_name in self._entry_points else ""

    def _label(self, plugin_name: str) -> str:
        source = self._sources.get(plugin_name)
        return source.label if source is not None else repr(plugin_name)

    def _collect(self) -> _Registry:
        from pysoa.common.middleware.async_client import AsyncClientMiddleware
        from pysoa.common.middleware.client import ClientMiddleware
        from pysoa.common.middleware.server import ServerMiddleware
        from pysoa.common.serializer.base import Serializer
        from pysoa.common.transport.async_base import AsyncClientTransport, AsyncServerTransport
        from pysoa.common.transport.base import ClientTransport, ServerTransport

        hooks: list[tuple[str, list[tuple[str, type]]]] = [
            (
                "pysoa_register_transports",
                [
                    ("client transport", ClientTransport),
                    ("server transport", ServerTransport),
                    ("async client transport", AsyncClientTransport),
                    ("async server transport", AsyncServerTransport),
                ],
            ),
            ("pysoa_register_serializers", [("serializer", Serializer)]),
            (
                "pysoa_register_middleware",
                [
                    ("client middleware", ClientMiddleware),
                    ("server middleware", ServerMiddleware),
                    ("async client middleware", AsyncClientMiddleware),
                ],
            ),
        ]
        registry = _Registry()
        for hook_name, bases in hooks:
            caller: pluggy.HookCaller = getattr(self._pm.hook, hook_name)
            for impl in caller.get_hookimpls():
                for cls in self._call(hook_name, impl):
                    self._add(registry, hook_name, impl.plugin_name, cls, bases)
        return registry

    def _call(self, hook_name: str, impl: pluggy.HookImpl) -> list[object]:
        label = self._label(impl.plugin_name)
        if impl.wrapper or impl.hookwrapper:
            raise PluginError(f"{hook_name} of plugin {label} is a wrapper; registration hooks cannot be wrappers")
        try:
            result = impl.function()
        except Exception as exc:
            raise PluginError(
                f"{hook_name} of plugin {label} raised {type(exc).__name__}: {exc}{self._block_hint(impl.plugin_name)}"
            ) from exc
        if result is None:
            return []
        if isinstance(result, type | str | bytes) or not isinstance(result, Iterable):
            raise PluginError(f"{hook_name} of plugin {label} must return a list of classes, not {result!r}")
        return list(result)

    def _add(
        self, registry: _Registry, hook_name: str, plugin_name: str, cls: object, bases: list[tuple[str, type]]
    ) -> None:
        label = self._label(plugin_name)
        kind = next((k for k, base in bases if isinstance(cls, type) and issubclass(cls, base)), None)
        if kind is None or not isinstance(cls, type):
            expected = " or ".join(f"{base.__module__}.{base.__qualname__}" for _, base in bases)
            raise PluginError(f"{hook_name} of plugin {label} returned {cls!r}, which is not a subclass of {expected}")
        source = self._sources.get(plugin_name) or _Source(None, None, label)
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"{kind} class {_class_path(cls)} of plugin {label} has no 'name'")
        info = PluginInfo(kind, name, cls, plugin_name, source.distribution, source.version)
        existing = registry.by_kind[kind].get(name)
        if existing is not None and existing.cls is not cls:
            raise DuplicatePluginError(
                f"Two {kind} classes claim the name {name!r}: {_describe(existing, self._label(existing.plugin))} "
                f"and {_describe(info, label)}"
            )
        registry.by_kind[kind][name] = info
        if kind == "serializer":
            mime_type = getattr(cls, "mime_type", None)
            if not isinstance(mime_type, str) or not mime_type:
                raise PluginError(f"serializer class {_class_path(cls)} of plugin {label} has no 'mime_type'")
            other = registry.by_mime_type.get(mime_type)
            if other is not None and other.cls is not cls:
                raise DuplicatePluginError(
                    f"Two serializer classes claim the MIME type {mime_type!r}: "
                    f"{_describe(other, self._label(other.plugin))} and {_describe(info, label)}"
                )
            registry.by_mime_type[mime_type] = info

    # --- lookups ------------------------------------------------------------------------------

    def _get(self, kind: str, name: str) -> type[Any]:
        registry = self._load()
        found = registry.by_kind[kind].get(name)
        if found is not None:
            return found.cls
        raise UnknownPluginError(self._unknown_message(registry, kind, name))

    def _unknown_message(self, registry: _Registry, kind: str, name: str) -> str:
        installed = sorted(registry.by_kind[kind])
        message = f"No {kind} plugin named {name!r} is installed"
        message += f"; installed: {', '.join(installed)}" if installed else f"; no {kind} is installed"
        close = difflib.get_close_matches(name, installed, n=1)
        if name in self._blocked:
            message += f". It is blocked by {BLOCK_ENV_VAR}"
        elif close:
            message += f". Did you mean {close[0]!r}?"
        elif name in _FIRST_PARTY:
            message += f". Install it with: pip install {_FIRST_PARTY[name]}"
        elsewhere = [other for other in KINDS if other != kind and name in registry.by_kind[other]]
        if elsewhere:
            message += f" ({name!r} is a {' and a '.join(elsewhere)})"
        return message

    def client_transport(self, name: str) -> type[ClientTransport]:
        return self._get("client transport", name)

    def server_transport(self, name: str) -> type[ServerTransport]:
        return self._get("server transport", name)

    def serializer(self, name: str) -> type[Serializer]:
        return self._get("serializer", name)

    def client_middleware(self, name: str) -> type[ClientMiddleware]:
        return self._get("client middleware", name)

    def server_middleware(self, name: str) -> type[ServerMiddleware]:
        return self._get("server middleware", name)

    def async_client_transport(self, name: str) -> type[AsyncClientTransport]:
        return self._get("async client transport", name)

    def async_server_transport(self, name: str) -> type[AsyncServerTransport]:
        return self._get("async server transport", name)

    def get(self, kind: str, name: str) -> type[Any]:
        """Look up by kind (one of :data:`KINDS`) and name."""
        _check_kind(kind)
        return self._get(kind, name)

    def serializer_for_mime_type(self, mime_type: str) -> type[Serializer] | None:
        """The serializer class for a wire content type, or ``None`` when none is installed."""
        info = self._load().by_mime_type.get(mime_type)
        return info.cls if info is not None else None

    def names(self, kind: str) -> list[str]:
        """The installed names of one kind, sorted."""
        _check_kind(kind)
        return sorted(self._load().by_kind[kind])

    def transports(self) -> Mapping[str, PluginPair]:
        """Transports by name, each with its client and server class."""
        return self._pairs("client transport", "server transport")

    def serializers(self) -> Mapping[str, PluginInfo]:
        """Serializers by name."""
        return dict(sorted(self._load().by_kind["serializer"].items()))

    def middleware(self) -> Mapping[str, PluginPair]:
        """Middleware by name, each with its client and server class."""
        return self._pairs("client middleware", "server middleware")

    def _pairs(self, client_kind: str, server_kind: str) -> dict[str, PluginPair]:
        registry = self._load()
        clients, servers = registry.by_kind[client_kind], registry.by_kind[server_kind]
        return {name: PluginPair(name, clients.get(name), servers.get(name)) for name in sorted({*clients, *servers})}

    def describe(self) -> list[PluginInfo]:
        """Every registered class, sorted by kind (in :data:`KINDS` order) then name."""
        registry = self._load()
        return [info for kind in KINDS for _, info in sorted(registry.by_kind[kind].items())]


def _block_hint(plugin_name: str) -> str:
    return f". Set {BLOCK_ENV_VAR}={plugin_name} to run without it"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")


def _hook_names() -> list[str]:
    return sorted(name for name in hookspecs.__all__ if name.startswith(_HOOK_PREFIX))


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _describe(info: PluginInfo, label: str) -> str:
    return f"{info.class_path} (from plugin {label})"


def _dist_name(dist: importlib.metadata.Distribution | None) -> str:
    name = dist.metadata["Name"] if dist is not None else None
    return name if isinstance(name, str) else "(unknown distribution)"


def _blocked_from_environment() -> frozenset[str]:
    raw = os.environ.get(BLOCK_ENV_VAR, "")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


_default_manager: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (built on first use; it loads plugins on its first lookup)."""
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
