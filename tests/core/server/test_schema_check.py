"""The fast yes-check in front of Conformity gives exactly Conformity's answer, for valid and invalid values."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from conformity import fields
from conformity.error import Error as SchemaError
from hypothesis import given, settings
from hypothesis import strategies as st

from pysoa.server.action import _schema_check
from pysoa.server.action._schema_check import schema_errors

BODY = fields.Dictionary(
    {
        "id": fields.Integer(),
        "ratio": fields.Nullable(fields.Float()),
        "name": fields.UnicodeString(),
        "flag": fields.Boolean(),
        "tags": fields.List(fields.UnicodeString(), max_length=2),
        "extra": fields.Anything(),
    },
    optional_keys=("extra", "ratio"),
)
BOUNDED = fields.Dictionary(
    {"count": fields.Integer(gte=1), "code": fields.UnicodeString(min_length=2, allow_blank=False)},
)
NUMBERS = fields.Dictionary(
    {"ids": fields.List(fields.Integer(), min_length=1), "maybe": fields.List(fields.Nullable(fields.Float()))}
)
OPEN = fields.Dictionary({"id": fields.Integer()}, allow_extra_keys=True)

VALID = {"id": 1, "name": "x", "flag": False, "tags": ["a", "b"]}


def _errors(schema: fields.Base, value: Any) -> list[tuple[str, str, str | None]]:
    return [(e.code, e.message, e.pointer) for e in schema_errors(schema, value)]


def _conformity(schema: fields.Base, value: Any) -> list[tuple[str, str, str | None]]:
    return [(e.code, e.message, e.pointer) for e in schema.errors(value)]


@pytest.mark.parametrize(
    "value",
    [
        VALID,
        {**VALID, "extra": object(), "ratio": None},
        {**VALID, "ratio": 2},
        {**VALID, "ratio": 2.5},
        {**VALID, "id": True},  # a bool is not an Integer
        {**VALID, "id": 1.0},
        {**VALID, "ratio": "2"},
        {**VALID, "name": b"x"},
        {**VALID, "flag": 0},
        {**VALID, "tags": ["a", "b", "c"]},
        {**VALID, "tags": ("a",)},
        {**VALID, "tags": ["a", 1]},
        {**VALID, "unknown": 1},
        {k: v for k, v in VALID.items() if k != "name"},
        [VALID],
        None,
    ],
)
def test_same_answer_as_conformity(value: Any) -> None:
    assert _errors(BODY, value) == _conformity(BODY, value)


def test_valid_values_pass_without_running_conformity(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = fields.Dictionary({"id": fields.Integer(), "tags": fields.List(fields.Integer())})

    def refuse(_value: Any) -> list[Any]:
        raise AssertionError("Conformity ran for a valid value")

    schema_errors(schema, {"id": 1, "tags": [1]})  # compiles the check
    monkeypatch.setattr(schema, "errors", refuse)
    assert schema_errors(schema, {"id": 1, "tags": [2, 3]}) == []


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        (BOUNDED, {"count": 0, "code": "ab"}),
        (BOUNDED, {"count": 1, "code": "  "}),
        (BOUNDED, {"count": 1, "code": "a"}),
        (BOUNDED, {"count": 1, "code": "ab"}),
        (NUMBERS, {"ids": [1, 2], "maybe": [None, 1.5, 2]}),
        (NUMBERS, {"ids": [1, True], "maybe": []}),
        (NUMBERS, {"ids": [], "maybe": [False]}),
        (NUMBERS, {"ids": [1], "maybe": [None, "1"]}),
        (OPEN, {"id": 1, "more": 2}),
        (OPEN, {"id": "1", "more": 2}),
        (fields.Dictionary(OrderedDict([("b", fields.Integer()), ("a", fields.Integer())])), {"a": "x", "b": "y"}),
        (fields.SchemalessDictionary(), {1: 2}),
    ],
)
def test_fields_with_bounds_or_other_types_keep_conformity_answers(schema: fields.Base, value: Any) -> None:
    assert _errors(schema, value) == _conformity(schema, value)


def test_additional_validators_always_run() -> None:
    class NoZero(fields.AdditionalCollectionValidator[Any]):
        def errors(self, value: Any) -> list[Any]:
            return [SchemaError("zero")] if value.get("id") == 0 else []

    schema = fields.Dictionary({"id": fields.Integer()}, additional_validator=NoZero())
    assert _errors(schema, {"id": 0}) == _conformity(schema, {"id": 0}) != []


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_schema_check, "_checks", {})
    monkeypatch.setattr(_schema_check, "_MAX_CACHED", 2)
    schemas = [fields.Dictionary({"id": fields.Integer()}) for _ in range(4)]
    for schema in schemas:
        assert schema_errors(schema, {"id": 1}) == []
        assert _errors(schema, {"id": "1"}) == _conformity(schema, {"id": "1"}) != []
    assert len(_schema_check._checks) == 2


# --- Differential check: random schemas of the covered field types against random values -------------------------

_SCALAR_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.text(max_size=3),
    st.binary(max_size=2),
)
# String keys only: Conformity itself fails (sorting the unknown keys) on a dictionary mixing str and int keys.
_VALUES = st.recursive(
    _SCALAR_VALUES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner, max_size=3),
    ),
    max_leaves=8,
)
_SCALAR_FIELDS = st.one_of(
    st.builds(fields.Anything),
    st.builds(fields.Boolean),
    st.builds(fields.Integer),
    st.builds(fields.Float),
    st.builds(fields.Integer, gte=st.integers(-1, 1)),
    st.builds(fields.UnicodeString),
    st.builds(fields.UnicodeString, allow_blank=st.booleans()),
    st.builds(fields.UnicodeString, max_length=st.integers(0, 2)),
)


def _containers(inner: st.SearchStrategy[fields.Base]) -> st.SearchStrategy[fields.Base]:
    return st.one_of(
        st.builds(fields.Nullable, inner),
        st.builds(
            fields.List,
            inner,
            min_length=st.one_of(st.none(), st.integers(0, 1)),
            max_length=st.one_of(st.none(), st.integers(1, 3)),
        ),
        _dictionaries(inner),
    )


def _dictionaries(inner: st.SearchStrategy[fields.Base]) -> st.SearchStrategy[fields.Base]:
    return st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3).flatmap(
        lambda contents: st.builds(
            fields.Dictionary,
            st.just(contents),
            optional_keys=st.lists(st.sampled_from(sorted(contents) or ["a"]), max_size=2).map(tuple),
            allow_extra_keys=st.booleans(),
        )
    )


_FIELDS = st.recursive(_SCALAR_FIELDS, _containers, max_leaves=6)


# Enough examples that every covered field meets its edge values (checked by breaking the fast check on purpose).
@settings(max_examples=600)
@given(schema=_FIELDS, value=_VALUES)
def test_random_schemas_give_conformity_s_answer(schema: fields.Base, value: Any) -> None:
    assert _errors(schema, value) == _conformity(schema, value)


@settings(max_examples=600)
@given(schema=_FIELDS, data=st.data())
def test_random_schemas_give_conformity_s_answer_for_values_shaped_like_them(schema: fields.Base, data: Any) -> None:
    # Values drawn blindly rarely satisfy a dictionary schema; these are built from the schema, so the fast path
    # (a yes) is exercised as often as Conformity's (a no).
    value = data.draw(_value_for(schema))
    assert _errors(schema, value) == _conformity(schema, value)


def _value_for(field: fields.Base) -> st.SearchStrategy[Any]:
    if isinstance(field, fields.Nullable):
        return st.one_of(st.none(), _value_for(field.field))
    if isinstance(field, fields.List):
        return st.lists(_value_for(field.contents), max_size=3)
    if isinstance(field, fields.Dictionary):
        keys = sorted(field.contents, key=str)
        return st.fixed_dictionaries(
            {key: _value_for(field.contents[key]) for key in keys if key not in field.optional_keys},
            optional={key: _value_for(field.contents[key]) for key in keys if key in field.optional_keys},
        )
    # The edges the scalar fields decide on (blank, bool against numbers, int against float), then anything.
    return st.one_of(st.sampled_from(["", "x", "xyz", 0, 1, -1, True, 1.5, None, b""]), _VALUES)


# --- The unrolled check of a dictionary schema against the loops it replaces ---------------------------------------

# Dictionaries of the field types the fast check covers (no bounds on scalars), at any depth.
_COVERED_SCALARS = st.one_of(
    st.builds(fields.Anything),
    st.builds(fields.Boolean),
    st.builds(fields.Integer),
    st.builds(fields.Float),
    st.builds(fields.UnicodeString),
)
_DICTIONARIES = _dictionaries(st.recursive(_COVERED_SCALARS, _containers, max_leaves=6))


def _unrolled_and_general(schema: fields.Base) -> tuple[Any, Any] | None:
    """The unrolled check and the general one it leaves other values to; ``None`` when Conformity answers alone
    (a field with bounds anywhere in the schema)."""
    check = _schema_check._compile(schema)
    return None if check is None else (check, check.__globals__["general"])


@settings(max_examples=400)
@given(schema=_DICTIONARIES, data=st.data())
def test_the_unrolled_check_answers_as_the_general_one(schema: fields.Base, data: Any) -> None:
    checks = _unrolled_and_general(schema)
    assert checks is not None
    check, general = checks
    value = data.draw(st.one_of(_value_for(schema), _VALUES))
    assert check(value) == general(value)
    if isinstance(value, dict):
        # One key more, one key fewer: what the key count and membership tests decide on.
        assert check({**value, "z": 1}) == general({**value, "z": 1})
        for key in value:
            fewer = {k: v for k, v in value.items() if k != key}
            assert check(fewer) == general(fewer)


def test_the_unrolled_check_is_for_plain_dicts_only(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = _unrolled_and_general(BODY)
    assert checks is not None
    check, general = checks
    seen: list[Any] = []

    def general_spy(value: Any) -> bool:
        seen.append(value)
        return bool(general(value))

    # A subclass may redefine lookups: the general check, which makes them as before, answers for it.
    monkeypatch.setitem(check.__globals__, "general", general_spy)
    ordered = OrderedDict(VALID)
    assert check(ordered) is True
    assert check([VALID]) is False
    assert check(VALID) is True
    assert check({**VALID, "id": True}) is False
    assert seen == [ordered, [VALID]]
