"""MkDocs hook: the settings reference, rendered from the Conformity schemas at every docs build.

A page asks for a table with a marker line, ``<!-- settings-reference: NAME -->``, where NAME is
``server``, ``client`` or ``<kind> transport <plugin>`` (``client transport redis``). The table lists
every key of that schema (nested dictionaries as dotted paths, list items as ``key[].inner``) with
its type and constraints, whether it is required, its default, and its description. Because the tables come from the
schemas the code validates against, they cannot drift; a marker naming something that does not
exist fails the build.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["on_page_markdown", "render"]

_MARKER = re.compile(r"^<!-- settings-reference: (?P<name>[a-z ]+?) -->$", re.M)
_NO_DEFAULT = object()
_MAX_DEFAULT_LENGTH = 60

# Transports whose defaults live beside their schema rather than in their constructor's signature:
# (client defaults, server defaults) as "module:NAME".
_TRANSPORT_DEFAULTS = {
    "redis": ("soa_redis._config:CLIENT_DEFAULTS", "soa_redis._config:SERVER_DEFAULTS"),
    "zmq": ("soa_zmq._settings:CLIENT_DEFAULTS", "soa_zmq._settings:SERVER_DEFAULTS"),
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each marker line with its table."""
    return _MARKER.sub(lambda match: render(match.group("name")), markdown)


def render(name: str) -> str:
    """The Markdown table for one schema (see the module docstring for the names)."""
    schema, defaults = _schema_and_defaults(name)
    lines = ["| setting | type | required | default | description |", "|---|---|---|---|---|"]
    for path, field, required, default in _rows(schema, defaults):
        lines.append(
            f"| `{path}` | {_cell(_type_name(field))} | {'yes' if required else 'no'} "
            f"| {_default_cell(default)} | {_cell(field.get('description') or '')} |"
        )
    return "\n".join(lines)


def _schema_and_defaults(name: str) -> tuple[dict[str, Any], Mapping[str, Any]]:
    if name in ("server", "client"):
        from pysoa.client.settings import ClientSettings
        from pysoa.server.settings import ServerSettings

        settings_class = ServerSettings if name == "server" else ClientSettings
        contents = {key: field.introspect() for key, field in settings_class.schema.items()}
        # Every top-level key has a default (the base class merges them in), so none is required.
        required = sorted(set(contents) - set(settings_class.defaults))
        return {"type": "dictionary", "contents": contents, "optional_keys": [], "_required": required}, (
            settings_class.defaults
        )
    match = re.fullmatch(r"(client|server) transport (\w+)", name)
    if match is None:
        raise ValueError(f"Unknown settings reference {name!r}: use server, client or '<client|server> transport NAME'")
    role, plugin = match.groups()
    from pysoa.plugins import get_plugin_manager

    transport_class = get_plugin_manager().get(f"{role} transport", plugin)
    schema = transport_class.settings_schema.introspect()
    defaults: dict[str, Any] = {
        parameter.name: parameter.default
        for parameter in inspect.signature(transport_class.__init__).parameters.values()
        if parameter.default is not inspect.Parameter.empty and parameter.default is not None
    }
    if plugin in _TRANSPORT_DEFAULTS:
        module_name, _, attribute = _TRANSPORT_DEFAULTS[plugin][role == "server"].partition(":")
        defaults.update(getattr(importlib.import_module(module_name), attribute))
    return schema, defaults


def _rows(schema: dict[str, Any], defaults: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any], bool, Any]]:
    optional = set(schema.get("optional_keys", ()))
    required_override = schema.get("_required")
    for key, field in schema["contents"].items():
        path = f"{prefix}{key}"
        required = key in required_override if required_override is not None else key not in optional
        default = defaults.get(key, _NO_DEFAULT) if isinstance(defaults, Mapping) else _NO_DEFAULT
        yield path, field, required, default
        nested = _dictionary_inside(field)
        if nested is not None:
            # Keys of a list's items read ``middleware[].path``; their defaults are per item, so not shown.
            item = "[]" if field["type"] == "list" else ""
            yield from _rows(nested, default if not item else None, f"{path}{item}.")


def _dictionary_inside(field: dict[str, Any]) -> dict[str, Any] | None:
    """The dictionary schema whose keys get rows of their own: a dictionary, or the items of a list of them."""
    if field["type"] == "dictionary" and field.get("contents"):
        return field
    if field["type"] == "list" and field["contents"]["type"] == "dictionary":
        return _dictionary_inside(field["contents"])
    return None


def _type_name(field: dict[str, Any]) -> str:
    kind = field["type"]
    constraints = [f"{symbol} {field[key]}" for key, symbol in _BOUNDS if key in field]
    if kind == "any":
        name = " or ".join(dict.fromkeys(_type_name(option) for option in field["options"]))
    elif kind == "nullable":
        name = f"{_type_name(field['nullable'])} or null"
    elif kind in ("list", "set"):
        name = f"{kind} of {_type_name(field['contents'])}"
        constraints = [f"{word} {field[key]}" for key, word in _LENGTHS if field.get(key) is not None]
    elif kind == "schemaless_dictionary":
        name = "dict"
        if "key_type" in field and "value_type" in field:
            name = f"dict of {_type_name(field['key_type'])} to {_type_name(field['value_type'])}"
    elif kind == "constant":
        name = "one of " + ", ".join(f"`{value!r}`" for value in field["values"])
    elif kind == "plugin reference":
        name = f"{field['kind']} (plugin name or reference)"
    else:
        name = _TYPE_NAMES.get(kind, kind)
    return name + (f" ({', '.join(constraints)})" if constraints else "")


_TYPE_NAMES = {
    "unicode": "string",
    "bytes": "bytes",
    "integer": "integer",
    "float": "float",
    "boolean": "boolean",
    "dictionary": "dict",
    "python_path": "Python path",
    "object_instance": "object",
    "anything": "anything",
    "tuple": "tuple",
}
_BOUNDS = (("gt", ">"), ("gte", "≥"), ("lt", "<"), ("lte", "≤"))
_LENGTHS = (("min_length", "at least"), ("max_length", "at most"))


def _default_cell(default: Any) -> str:
    if default is _NO_DEFAULT:
        return ""
    if isinstance(default, Mapping) and len(repr(default)) > _MAX_DEFAULT_LENGTH:
        return "see the keys below"
    shown = repr(default)
    if len(shown) > _MAX_DEFAULT_LENGTH:
        shown = shown[: _MAX_DEFAULT_LENGTH - 3] + "..."
    return f"`{shown}`".replace("|", "\\|")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
