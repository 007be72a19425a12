"""The tagged JSON encoding that carries typed values between the dev side and the PySOA 1.4.9 peers."""

from __future__ import annotations

import datetime
import decimal
import json

import currint
import pytest

from . import tagged_json

TYPED = {
    "naive": datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
    "utc": datetime.datetime(2021, 6, 7, 8, 9, 10, 123456, tzinfo=datetime.UTC),
    "offset": datetime.datetime(2021, 6, 7, 8, 9, 10, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    "date": datetime.date(1, 1, 1),
    "time": datetime.time(23, 59, 59, 999999),
    "decimal": decimal.Decimal("12.3400"),
    "negative": decimal.Decimal("-0.5"),
    "amount": currint.Amount.from_code_and_minor("JPY", -5),
    "bytes": b"\x00\x01\xff",
    "nested": [{"a": [b"x", decimal.Decimal("1")]}, None, True, 1.5, "héllo"],
}


def test_typed_values_survive_a_round_trip_exactly() -> None:
    decoded = tagged_json.loads(tagged_json.dumps(TYPED))
    assert decoded == TYPED
    assert {key: type(value) for key, value in decoded.items()} == {key: type(value) for key, value in TYPED.items()}
    assert str(decoded["decimal"]) == "12.3400"  # trailing zeros are part of a Decimal's identity on the wire


def test_the_encoding_is_plain_json_with_documented_tags() -> None:
    plain = json.loads(tagged_json.dumps({"when": TYPED["naive"], "cost": TYPED["amount"], "raw": b"\x00\x01"}))
    assert plain == {
        "when": {"__type__": "datetime", "value": "2020-01-02T03:04:05.678901"},
        "cost": {"__type__": "amount", "currency": "JPY", "minor": -5},
        "raw": {"__type__": "bytes", "value": "AAE="},
    }


def test_aware_utc_datetimes_take_the_callers_utc_tzinfo() -> None:
    other = datetime.timezone(datetime.timedelta(0), "stands in for pytz.UTC, absent from the dev venv")
    decoded = tagged_json.loads(tagged_json.dumps([TYPED["utc"], TYPED["offset"]]), utc=other)
    assert decoded[0].tzinfo is other
    assert decoded[0] == TYPED["utc"]
    assert decoded[1].utcoffset() == datetime.timedelta(hours=2)  # only offset-zero values are re-zoned


def test_maps_that_plain_json_cannot_hold_are_tagged() -> None:
    value = {1: "int key", b"k": "bytes key", "__type__": "a real key named __type__"}
    assert tagged_json.loads(tagged_json.dumps(value)) == value


def test_tuples_become_lists_as_in_msgpack() -> None:
    assert tagged_json.loads(tagged_json.dumps({"t": (1, (2, 3))})) == {"t": [1, [2, 3]]}


def test_unknown_types_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"builtins\.set"):
        tagged_json.dumps({"s": {1, 2}})


@pytest.mark.parametrize(
    "bad",
    [
        {"__type__": "spaceship"},
        {"__type__": "datetime", "value": "not a date"},
        {"__type__": "decimal"},
        {"__type__": "bytes", "value": "***"},
    ],
)
def test_bad_tagged_values_are_a_value_error(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="tagged_json"):
        tagged_json.loads(json.dumps(bad))
