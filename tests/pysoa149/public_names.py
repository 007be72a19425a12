"""Print, as JSON, every module of the installed PySOA and the public names it offers (run in the interop venv).

Stdlib only: it runs under PySOA 1.4.9's own interpreter (tests/pysoa149/env.py) and never imports soa-core.

A module's public names are its ``__all__`` when it declares one, else the public classes, functions and constants
it defines at top level (including inside top-level ``if``/``try`` blocks, where PySOA defines fallbacks); names it
merely imports are not its API. The names are read from the source, so modules whose optional dependencies (Django,
pytest, factory_boy, pyparsing) are missing here are still listed. Where the module imports, each name's kind
(``class``, ``function``, ``type hint`` or ``constant``) is recorded, and simple constant values (numbers, strings,
bytes, and tuples of those; an enum as ``{member: value}``) are recorded for comparison.

Output: ``{module: {"names": [...], "kinds": {name: kind}, "values": {name: value}, "import_error": str|None}}``.
Bytes are emitted as ``{"bytes": "<latin-1 text>"}``.
"""

from __future__ import annotations

import ast
import enum
import importlib
import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any


def _module_names(package_dir: Path, package: str) -> list[str]:
    names = []
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return [name for name in names if name == package or name.startswith(package + ".")]


def _literal_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            value = ast.literal_eval(node.value)
            # ``__all__ = ('mock')`` (pysoa.test.compatibility) is a string, not a tuple: it meant one name.
            return [value] if isinstance(value, str) else [str(name) for name in value]
    return None


def _defined_names(statements: list[ast.stmt]) -> list[str]:
    names: list[str] = []
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, ast.If):
            names.extend(_defined_names(node.body) + _defined_names(node.orelse))
        elif isinstance(node, ast.Try):
            names.extend(_defined_names(node.body) + _defined_names(node.orelse))
            for handler in node.handlers:
                names.extend(_defined_names(handler.body))
    return [name for name in dict.fromkeys(names) if not name.startswith("_")]


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": value.decode("latin-1")}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (tuple, list, frozenset)):
        items = [_json_value(item) for item in value]
        return None if any(item is _UNSUPPORTED for item in items) else items
    return _UNSUPPORTED


_UNSUPPORTED = object()


def _describe(value: Any) -> tuple[str, Any]:
    if inspect.isclass(value):
        if issubclass(value, enum.Enum):
            members = {member.name: _json_value(member.value) for member in value}
            if all(item is not _UNSUPPORTED for item in members.values()):
                return "class", {"enum": members}
        return "class", _UNSUPPORTED
    if type(value).__module__ == "typing":  # a type alias such as Dict[str, Any], or a TypeVar
        return "type hint", _UNSUPPORTED
    if callable(value):
        return "function", _UNSUPPORTED
    json_value = _json_value(value)
    return "constant", json_value


def describe_package(package: str) -> dict[str, Any]:
    root = importlib.util.find_spec(package)
    if root is None or not root.submodule_search_locations:
        raise SystemExit(f"{package} is not an installed package")
    package_dir = Path(next(iter(root.submodule_search_locations)))
    report: dict[str, Any] = {}
    for module_name in _module_names(package_dir, package):
        relative = module_name.split(".")[1:]
        source = package_dir.joinpath(*relative, "__init__.py")
        if not source.exists():
            source = package_dir.joinpath(*relative).with_suffix(".py")
        tree = ast.parse(source.read_text(encoding="utf-8"))
        declared = _literal_all(tree)
        names = declared if declared is not None else _defined_names(tree.body)
        entry: dict[str, Any] = {"names": names, "kinds": {}, "values": {}, "import_error": None}
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # an optional dependency PySOA's venv does not have
            entry["import_error"] = f"{type(exc).__name__}: {exc}"
        else:
            for name in names:
                if not hasattr(module, name):  # defined in a branch not taken on this Python (typing_patches)
                    continue
                kind, value = _describe(getattr(module, name))
                entry["kinds"][name] = kind
                if value is not _UNSUPPORTED:
                    entry["values"][name] = value
        report[module_name] = entry
    return report


if __name__ == "__main__":
    json.dump(describe_package(sys.argv[1] if len(sys.argv) > 1 else "pysoa"), sys.stdout, indent=1, sort_keys=True)
