"""The settings field that names a plugin.

A transport, serializer or middleware is named in one of three forms:

* a plugin name: ``'redis'``;
* ``{'name': 'redis', 'kwargs': {...}}``;
* PySOA's ``{'path': 'package.module:ClassName', 'kwargs': {...}}``, for classes outside any plugin.

``kwargs`` are validated against the class's ``settings_schema`` (or the schema PySOA's
``ClassConfigurationSchema.provider`` attached). After validation every such setting is normalised
to ``{'name': ..., 'path': ..., 'object': <class>, 'kwargs': {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from conformity import fields
from conformity.error import ERROR_CODE_INVALID, ERROR_CODE_UNKNOWN
from conformity.error import Error as SchemaError

from pysoa.common.settings import resolve_python_path
from pysoa.errors import PluginError
from pysoa.plugins.manager import KINDS, get_plugin_manager

__all__ = ["PluginReference"]


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
