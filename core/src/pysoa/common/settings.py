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
import importlib
from collections.abc import Mapping
from typing import Any, cast

import attr
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
    schema = getattr(cls, "settings_schema", None)
    if schema is None:
        # Classes written for PySOA attach their schema with ClassConfigurationSchema.provider().
        schema = getattr(cls, "_conformity_initialization_schema", None)
    return cast(fields.Base | None, schema)


@attr.s
class PluginReference(fields.Base):
    """A Conformity field for a plugin named by name, ``{'name', 'kwargs'}`` or ``{'path', 'kwargs'}``.

    ``kind`` is a plugin-manager kind (``'client transport'``, ``'serializer'``, ...); ``base_class``
    is what a ``path`` must point at.
    """

    kind: str = attr.ib()
    base_class: type = attr.ib()
    description: str | None = attr.ib(default=None)

    def errors(self, value: Any) -> list[SchemaError]:
        try:
            cls = self.resolve_class(value)
        except (ValueError, PluginError) as exc:
            pointer = "path" if isinstance(value, Mapping) and "path" in value else ""
            if isinstance(value, Mapping) and "name" in value:
                pointer = "name"
            return [SchemaError(str(exc), code=ERROR_CODE_INVALID, pointer=pointer or None)]
        if isinstance(value, Mapping):
            unknown = set(value) - {"name", "path", "kwargs", "object"}
            if unknown:
                return [SchemaError(f"Extra keys present: {', '.join(sorted(unknown))}", code=ERROR_CODE_UNKNOWN)]
            kwargs = value.get("kwargs", {})
        else:
            kwargs = {}
        if not isinstance(kwargs, Mapping):
            return [SchemaError("Not a dict", code=ERROR_CODE_INVALID, pointer="kwargs")]
        schema = _kwargs_schema(cls)
        if schema is None:
            return []
        return [
            SchemaError(e.message, code=e.code, pointer="kwargs" + (f".{e.pointer}" if e.pointer else ""))
            for e in schema.errors(kwargs)
        ]

    def resolve_class(self, value: Any) -> type:
        from pysoa.plugins import get_plugin_manager

        if isinstance(value, str):
            return get_plugin_manager().get(self.kind, value)
        if not isinstance(value, Mapping):
            raise ValueError(
                f"Expected a {self.kind} plugin name, {{'name': ..., 'kwargs': ...}} or "
                f"{{'path': 'module:Class', 'kwargs': ...}}; got {type(value).__name__}"
            )
        if "name" in value and "path" in value:
            raise ValueError("Give either 'name' or 'path', not both")
        if "name" in value:
            if not isinstance(value["name"], str):
                raise ValueError("'name' must be a string")
            return get_plugin_manager().get(self.kind, value["name"])
        if "path" in value:
            if not isinstance(value["path"], str):
                raise ValueError("'path' must be a string")
            cls = resolve_python_path(value["path"])
            if not isinstance(cls, type) or not issubclass(cls, self.base_class):
                raise ValueError(
                    f"{value['path']!r} is not a subclass of {self.base_class.__module__}.{self.base_class.__name__}"
                )
            return cls
        raise ValueError("Missing key 'name' (a plugin name) or 'path' ('module:Class')")

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

    def __init__(self, data: SettingsData) -> None:
        if not isinstance(data, Mapping):
            raise SettingsError(f"Settings must be a dict, not {type(data).__name__}")
        super().__init__(data)

    def set(self, data: SettingsData) -> None:
        super().set(data)
        normalised = dict(self._data)
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
                raise SettingsError(f"Invalid setting 'metrics': {exc}") from exc
            normalised["metrics"] = {**metrics, "object": metrics_class, "kwargs": metrics.get("kwargs", {})}
        self._data = normalised

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def copy_data(self) -> dict[str, Any]:
        """A deep copy of the validated data (classes are shared, not copied)."""
        return copy.deepcopy(dict(self._data))
