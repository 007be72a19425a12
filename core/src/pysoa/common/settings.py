"""Settings shared by clients and servers, and the way settings name a plugin.

A transport, serializer or middleware is named in one of three forms:

* a plugin name: ``'redis'``;
* ``{'name': 'redis', 'kwargs': {...}}``;
* PySOA's ``{'path': 'package.module:ClassName', 'kwargs': {...}}``, for classes outside any plugin.

``kwargs`` are validated against the class's ``settings_schema`` (or the schema PySOA's
``ClassConfigurationSchema.provider`` attached). After validation every such setting is normalised
to ``{'name': ..., 'path': ..., 'object': <class>, 'kwargs': {...}}``.
"""

from __future__ import annotations

import copy
import difflib
import importlib
from collections.abc import Mapping
from typing import Any, cast

from conformity import fields
from conformity.error import ERROR_CODE_INVALID, ERROR_CODE_UNKNOWN
from conformity.error import Error as SchemaError
from conformity.settings import Settings, SettingsData, SettingsSchema

from pysoa.errors import ConfigurationError, PluginError

__all__ = [
    "PluginReference",
    "SOASettings",
    "SettingsError",
    "resolve_python_path",
]


class SettingsError(ConfigurationError):
    """Settings failed validation; the message names every offending key path."""


def resolve_python_path(path: str) -> Any:
    """Import ``'package.module:Name'`` (or ``'package.module.Name'``) and return the object."""
    if ":" in path:
        module_name, _, attribute = path.partition(":")
    else:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(f"{path!r} is not of the form 'package.module:Name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"Cannot import module {module_name!r} (from {path!r}): {exc}") from exc
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"Module {module_name!r} has no attribute {attribute!r}") from None
    return target


def _kwargs_schema(cls: type) -> fields.Base | None:
    """The schema for ``cls``'s kwargs: the one declared closest to ``cls`` in its MRO.

    soa-core classes declare ``settings_schema``; classes written for PySOA attach theirs with
    ``ClassConfigurationSchema.provider()`` (``_conformity_initialization_schema``). A PySOA-style
    subclass of a soa-core base class has both, and its own, nearer, declaration must win.
    """
    for klass in cls.__mro__:
        own = vars(klass)
        for attribute in ("settings_schema", "_conformity_initialization_schema"):
            if own.get(attribute) is not None:
                return cast(fields.Base, own[attribute])
    return None


# The keys of a plugin reference; ``object`` is what validation adds, so validated data validates again.
_REFERENCE_KEYS = frozenset({"name", "path", "kwargs", "object"})


class _InvalidReference(ValueError):
    def __init__(self, message: str, pointer: str | None = None) -> None:
        super().__init__(message)
        self.pointer = pointer


class PluginReference(fields.Base):
    """A Conformity field for a plugin named by name, ``{'name', 'kwargs'}`` or ``{'path', 'kwargs'}``.

    ``kind`` is a plugin-manager kind (``'client transport'``, ``'serializer'``, ...); ``base_class``
    is what a ``path`` must point at. Error pointers name the offending key (``name``, ``path``,
    ``kwargs.<key>``), so settings errors read ``transport.kwargs.foo: ...``.
    """

    def __init__(self, kind: str, base_class: type, description: str | None = None) -> None:
        from pysoa.plugins import KINDS

        if kind not in KINDS:
            raise ValueError(f"Unknown plugin kind {kind!r}; kinds: {', '.join(KINDS)}")
        self.kind = kind
        self.base_class = base_class
        self.description = description

    def __repr__(self) -> str:
        return f"PluginReference({self.kind!r}, {self.base_class.__name__})"

    def errors(self, value: Any) -> list[SchemaError]:
        if isinstance(value, Mapping):
            unknown = sorted(map(str, set(value) - _REFERENCE_KEYS))
            if unknown:
                return [SchemaError(f"Extra keys present: {', '.join(unknown)}", code=ERROR_CODE_UNKNOWN)]
        try:
            cls = self.resolve_class(value)
        except _InvalidReference as exc:
            return [SchemaError(str(exc), code=ERROR_CODE_INVALID, pointer=exc.pointer)]
        except PluginError as exc:
            pointer = "name" if isinstance(value, Mapping) else None
            return [SchemaError(str(exc), code=ERROR_CODE_INVALID, pointer=pointer)]
        kwargs = value.get("kwargs", {}) if isinstance(value, Mapping) else {}
        if not isinstance(kwargs, Mapping):
            return [SchemaError("Not a dict", code=ERROR_CODE_INVALID, pointer="kwargs")]
        schema = _kwargs_schema(cls)
        if schema is None:
            return []
        return [
            SchemaError(e.message, code=e.code, pointer="kwargs" + (f".{e.pointer}" if e.pointer else ""))
            for e in schema.errors(kwargs) or []
        ]

    def resolve_class(self, value: Any) -> type:
        """The class ``value`` names. Raises :class:`ValueError` or :class:`~pysoa.errors.PluginError`."""
        from pysoa.plugins import get_plugin_manager

        if isinstance(value, str):
            return get_plugin_manager().get(self.kind, value)
        if not isinstance(value, Mapping):
            raise _InvalidReference(
                f"Expected a {self.kind} plugin name, {{'name': ..., 'kwargs': ...}} or "
                f"{{'path': 'module:Class', 'kwargs': ...}}; got {type(value).__name__}"
            )
        if "object" in value:
            return self._check_class(value["object"], repr(value["object"]), "object")
        if "name" in value and "path" in value:
            raise _InvalidReference("Give either 'name' or 'path', not both")
        if "name" in value:
            if not isinstance(value["name"], str):
                raise _InvalidReference("Not a string (a plugin name)", "name")
            return get_plugin_manager().get(self.kind, value["name"])
        if "path" in value:
            path = value["path"]
            if not isinstance(path, str):
                raise _InvalidReference("Not a string ('module:Class')", "path")
            try:
                target = resolve_python_path(path)
            except ValueError as exc:
                raise _InvalidReference(str(exc), "path") from exc
            return self._check_class(target, repr(path), "path")
        raise _InvalidReference("Missing key 'name' (a plugin name) or 'path' ('module:Class')")

    def _check_class(self, target: Any, shown: str, pointer: str) -> type:
        if not isinstance(target, type) or not issubclass(target, self.base_class):
            raise _InvalidReference(
                f"{shown} is not a subclass of {self.base_class.__module__}.{self.base_class.__qualname__}",
                pointer,
            )
        return target

    def normalise(self, value: Any) -> dict[str, Any]:
        cls = self.resolve_class(value)
        kwargs = dict(value.get("kwargs", {})) if isinstance(value, Mapping) else {}
        return {
            "name": getattr(cls, "name", "") or None,
            "path": f"{cls.__module__}:{cls.__qualname__}",
            "object": cls,
            "kwargs": kwargs,
        }

    def introspect(self) -> dict[str, Any]:
        return {"type": "plugin reference", "kind": self.kind, "description": self.description}


class SOASettings(Settings):
    """Conformity settings with defaults deep-merged into the user's data.

    Raises :class:`SettingsError` (naming the key path) when the data does not validate. Plugin
    references are normalised to ``{'name', 'path', 'object', 'kwargs'}`` once validated.
    """

    ImproperlyConfigured = SettingsError  # type: ignore[assignment]

    schema: SettingsSchema = {
        "metrics": fields.Any(
            fields.Dictionary(
                {
                    "path": fields.UnicodeString(),
                    "kwargs": fields.SchemalessDictionary(key_type=fields.UnicodeString()),
                    "object": fields.Anything(),
                },
                optional_keys=("kwargs", "object"),
                description="A PyMetrics-style recorder; the default discards everything",
            ),
            fields.Null(),
        ),
    }
    defaults: SettingsData = {
        "metrics": {"path": "pysoa.common.metrics:NoOpMetricsRecorder"},
    }

    def set(self, data: SettingsData) -> None:
        if not isinstance(data, Mapping):
            raise SettingsError(f"Settings must be a dict, not {type(data).__name__}")
        merged = self._merge_mappings(copy.deepcopy(data), copy.deepcopy(self.defaults))
        problems = [f"{key}: Missing required setting" for key in sorted(self.schema.keys() - merged.keys())]
        for key in sorted(merged.keys() - self.schema.keys(), key=str):
            close = difflib.get_close_matches(str(key), list(self.schema), n=1)
            problems.append(f"{key}: Unknown setting" + (f" (did you mean {close[0]!r}?)" if close else ""))
        for key in sorted(self.schema.keys() & merged.keys()):
            for error in self.schema[key].errors(merged[key]) or []:
                problems.append(f"{key}{'.' + error.pointer if error.pointer else ''}: {error.message}")
        if problems:
            raise SettingsError(f"Invalid {type(self).__name__}:\n" + "\n".join(f"  - {p}" for p in problems))

        normalised = dict(merged)
        for key, field in self.schema.items():
            if isinstance(field, PluginReference):
                normalised[key] = field.normalise(normalised[key])
            elif isinstance(field, fields.List) and isinstance(field.contents, PluginReference):
                normalised[key] = [field.contents.normalise(item) for item in normalised[key]]
        metrics = normalised.get("metrics")
        if isinstance(metrics, Mapping) and "object" not in metrics:
            try:
                metrics_class = resolve_python_path(metrics["path"])
            except ValueError as exc:
                raise SettingsError(f"Invalid {type(self).__name__}:\n  - metrics.path: {exc}") from exc
            normalised["metrics"] = {**metrics, "object": metrics_class, "kwargs": metrics.get("kwargs", {})}
        self._data = normalised

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def copy_data(self) -> dict[str, Any]:
        """A deep copy of the validated data (classes are shared, not copied)."""
        return copy.deepcopy(dict(self._data))
