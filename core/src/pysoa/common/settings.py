"""Settings shared by clients and servers: validation, defaults, and normalised values.

Fields that name a plugin (:class:`pysoa.plugins.reference.PluginReference`) belong to the plugin
system, above this module; :class:`SOASettings` only asks each field to normalise its value.
"""

from __future__ import annotations

import copy
import difflib
import importlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from conformity import fields
from conformity.settings import Settings, SettingsData, SettingsSchema

from pysoa.errors import ConfigurationError

__all__ = [
    "NormalisingField",
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


@runtime_checkable
class NormalisingField(Protocol):
    """A settings field whose validated value :class:`SOASettings` replaces with ``normalise(value)``.

    :class:`pysoa.plugins.reference.PluginReference` is one: it turns a plugin name into the class.
    """

    def normalise(self, value: Any) -> Any: ...


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
            if isinstance(field, NormalisingField):
                normalised[key] = field.normalise(normalised[key])
            elif isinstance(field, fields.List) and isinstance(field.contents, NormalisingField):
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
