"""A fast yes-check in front of Conformity for the request and response schemas of actions.

Walking a Conformity schema builds generators, pointers and lists even when the value is valid,
which for a small action costs more than the rest of the server's work on a job. For the common
field types (dictionaries, lists, strings, numbers, booleans, ``Nullable``, ``Anything``) this
module builds a plain-Python predicate that is true only when Conformity would report no errors.
A value the predicate rejects, and any schema using another field type (or a subclass, or an
``additional_validator``), goes through Conformity itself, so errors keep Conformity's exact
codes, messages and pointers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, cast

from conformity import fields
from conformity.error import Error as SchemaError

__all__ = ["compiled_check", "schema_errors"]

_Check = Callable[[Any], bool]

# Compiled checks by schema identity; each entry holds its schema, so an id is never reused while cached.
# Bounded, in case an application builds schemas on the fly: beyond it, schemas are just run by Conformity.
_MAX_CACHED: Final = 1024
_checks: dict[int, tuple[fields.Base, _Check | None]] = {}


def schema_errors(schema: fields.Base, value: Any) -> list[SchemaError]:
    """``schema.errors(value)``, answered without Conformity when the value is plainly valid."""
    entry = _checks.get(id(schema))
    check = entry[1] if entry is not None and entry[0] is schema else compiled_check(schema)
    if check is not None and check(value):
        return []
    return list(schema.errors(value) or ())


def compiled_check(schema: fields.Base) -> _Check | None:
    """The predicate :func:`schema_errors` tries first: true only for values ``schema`` accepts (``None`` when
    ``schema`` has none). A caller that keeps it may skip ``schema_errors`` when it is true."""
    entry = _checks.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    check = _compile(schema)
    if len(_checks) < _MAX_CACHED:
        _checks[id(schema)] = (schema, check)
    return check


def _compile(field: fields.Base) -> _Check | None:
    """A predicate true only for values ``field`` accepts, or ``None`` for fields it does not cover."""
    leaf = _leaf(field)
    if leaf is not None:
        types, exclude_bool = leaf
        if exclude_bool:
            return lambda value: isinstance(value, types) and not isinstance(value, bool)
        return lambda value: isinstance(value, types)
    kind = type(field)  # exact types: a subclass may override errors()
    if kind is fields.Anything:
        return lambda _value: True
    if kind is fields.Nullable:
        inner = _compile(cast(fields.Nullable, field).field)
        return None if inner is None else (lambda value: value is None or inner(value))
    if kind is fields.List:
        return _list_check(cast(fields.List, field))
    if kind is fields.Dictionary:
        return _dictionary_check(cast(fields.Dictionary, field))
    return None


# A field whose check is one isinstance(): (the accepted types, whether bool is excluded from them).
_Leaf = tuple[type | tuple[type, ...], bool]


def _leaf(field: fields.Base) -> _Leaf | None:
    kind = type(field)
    if kind is fields.Boolean:
        return bool, False
    if kind is fields.UnicodeString:
        string = cast(fields.UnicodeString, field)
        if string.min_length is None and string.max_length is None and string.allow_blank:
            return str, False
        return None
    if kind is fields.Integer or kind is fields.Float:
        number = cast(fields.Integer, field)
        if number.gt is None and number.gte is None and number.lt is None and number.lte is None:
            return number.valid_type, True  # Conformity rejects bools as numbers
    return None


def _list_check(field: fields.List) -> _Check | None:
    if field.additional_validator is not None:
        return None
    min_length = field.min_length or 0
    max_length = field.max_length
    leaf = _leaf(field.contents)
    contents = None if leaf is not None else _compile(field.contents)
    if leaf is None and contents is None:
        return None

    def check(value: Any) -> bool:
        if not isinstance(value, list) or len(value) < min_length:
            return False
        if max_length is not None and len(value) > max_length:
            return False
        if leaf is not None:
            types, exclude_bool = leaf
            for item in value:  # noqa: SIM110 - a loop costs less than all() over a generator
                if not isinstance(item, types) or (exclude_bool and isinstance(item, bool)):
                    return False
            return True
        assert contents is not None
        for item in value:  # noqa: SIM110 - a loop costs less than all() over a generator
            if not contents(item):
                return False
        return True

    return check


def _dictionary_check(field: fields.Dictionary) -> _Check | None:
    if field.additional_validator is not None:
        return None
    leaves: list[tuple[Any, type | tuple[type, ...], bool]] = []
    others: list[tuple[Any, _Check]] = []
    for key, value_field in field.contents.items():
        leaf = _leaf(value_field)
        if leaf is not None:
            leaves.append((key, *leaf))
            continue
        value_check = _compile(value_field)
        if value_check is None:
            return None
        others.append((key, value_check))
    required = frozenset(field.contents) - frozenset(field.optional_keys)
    known = frozenset(field.contents)
    allow_extra_keys = bool(field.allow_extra_keys)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        if not allow_extra_keys and not known.issuperset(value):
            return False
        if not required.issubset(value):
            return False
        for key, types, exclude_bool in leaves:
            if key in value:
                item = value[key]
                if not isinstance(item, types) or (exclude_bool and isinstance(item, bool)):
                    return False
        for key, value_check in others:  # noqa: SIM110 - a loop costs less than all() over a generator
            if key in value and not value_check(value[key]):
                return False
        return True

    return _unrolled_dictionary_check(field, required, known, allow_extra_keys, check)


def _unrolled_dictionary_check(
    field: fields.Dictionary, required: frozenset[Any], known: frozenset[Any], allow_extra_keys: bool, general: _Check
) -> _Check:
    """``general``'s answer, with its loops over the fields unrolled into one function for plain dicts.

    A request or response body is checked on every call, and the loops' tuple unpacking, bool tests and
    calls cost about as much again as the checks themselves. The generated function does the same tests
    (fields whose check is not an ``isinstance`` call their compiled check; a list of such leaves is
    inlined): names in its code refer to the schema's keys, types and checks, never to their text.
    Anything but a plain dict (a subclass may redefine lookups) goes to ``general``.
    """
    namespace: dict[str, Any] = {"general": general, "known": known}
    lines = [
        "def check(value):",
        "    if type(value) is not dict:",
        "        return general(value)",
    ]
    if not allow_extra_keys:
        if known == required:  # exactly these keys: as many as them, and each of them (tested below)
            lines.append(f"    if len(value) != {len(known)}: return False")
        else:
            lines.append("    if not known.issuperset(value): return False")
    # A required key is looked up once, in a try block (free in CPython 3.11+ until it raises): a missing one
    # raises KeyError, which on a plain dict nothing else below can raise (the tests call isinstance, len and
    # compiled checks, none of which raises it).
    lines.append("    try:")
    lines.append("        pass")  # for a schema without fields
    for index, (key, value_field) in enumerate(field.contents.items()):
        namespace[f"key{index}"] = key
        indent = "        "
        if key in required:
            lines.append(f"        item = value[key{index}]")
        else:
            lines.append(f"        if key{index} in value:")
            lines.append(f"            item = value[key{index}]")
            indent = "            "
        lines.extend(indent + line for line in _value_test(value_field, index, namespace))
    lines.append("    except KeyError:")
    lines.append("        return False")
    lines.append("    return True")
    # The code is built above from fixed text and index numbers only: no key, type or value is ever spelled in it.
    exec("\n".join(lines), namespace)
    return cast(_Check, namespace["check"])


def _value_test(field: fields.Base, index: int, namespace: dict[str, Any]) -> list[str]:
    """Lines that return False unless ``item`` passes ``field``'s check (the names they use go in ``namespace``)."""
    leaf = _leaf(field)
    if leaf is not None:
        namespace[f"types{index}"] = leaf[0]
        bool_test = " or isinstance(item, bool)" if leaf[1] else ""
        return [f"if not isinstance(item, types{index}){bool_test}: return False"]
    if type(field) is fields.List:
        items = field
        contents = _leaf(items.contents)
        if items.additional_validator is None and contents is not None:
            namespace[f"types{index}"] = contents[0]
            namespace[f"min{index}"] = items.min_length or 0
            namespace[f"max{index}"] = items.max_length
            bool_test = " or isinstance(element, bool)" if contents[1] else ""
            lines = [f"if not isinstance(item, list) or len(item) < min{index}: return False"]
            if items.max_length is not None:
                lines.append(f"if len(item) > max{index}: return False")
            lines.append("for element in item:")
            lines.append(f"    if not isinstance(element, types{index}){bool_test}: return False")
            return lines
    namespace[f"check{index}"] = _compile(field)  # not None: the general check compiled it already
    return [f"if not check{index}(item): return False"]
