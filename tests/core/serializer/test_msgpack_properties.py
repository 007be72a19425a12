"""Property tests: every supported value round-trips exactly; any bytes decode to a dict or a DecodeError."""

from __future__ import annotations

import math
import struct
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from currint import Amount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.utc import UTC as WIRE_UTC
from pysoa.errors import DecodeError

SERIALIZER = MsgpackSerializer()
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8)), timezone(timedelta(hours=14))]
)

naive_datetimes = st.datetimes()
# Away from datetime.min/max so that converting to UTC stays in range.
aware_datetimes = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)
decimals = st.decimals(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [
        Decimal("-0"),
        Decimal("0E-1000000"),
        Decimal("-0.00"),
        Decimal("1E+999999999999999999"),
        Decimal("-1E-999999999999999999"),
        Decimal("sNaN"),
        Decimal("-NaN123"),
        Decimal("-Infinity"),
        Decimal("12.3400"),
        Decimal("9" * 500),
    ]
)
amounts = st.builds(
    Amount.from_code_and_minor,
    st.sampled_from(["USD", "EUR", "JPY", "GBP", "KWD", "BRL"]),
    st.integers(-(2**63), 2**63 - 1),
)
# Code points of every category, lone surrogates included.
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
integers = st.integers(-(2**63), 2**64 - 1)

leaves = st.one_of(
    st.none(),
    st.booleans(),
    integers,
    st.floats(),
    texts,
    st.binary(max_size=32),
    naive_datetimes,
    aware_datetimes,
    st.dates(),
    st.times(),
    st.times(timezones=ZONES),
    decimals,
    amounts,
)
keys = st.one_of(texts, integers)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)
messages = st.dictionaries(keys, values, max_size=6)


def expected(value: Any) -> Any:
    """What a value decodes as: tuples as lists, aware datetimes in soa-core's UTC, times without a zone."""
    if isinstance(value, list | tuple):
        return [expected(v) for v in value]
    if isinstance(value, dict):
        return {k: expected(v) for k, v in value.items()}
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(WIRE_UTC)
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    return value


def same(a: Any, b: Any) -> bool:
    """Exact equality: same types, NaN equals NaN, signed zeros and Decimal exponents must match."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, Decimal):
        return a.compare_total(b) == 0
    if isinstance(a, datetime):
        return a == b and a.tzinfo is b.tzinfo
    if isinstance(a, Amount):
        return bool(a.currency.code == b.currency.code and a.value == b.value)
    return bool(a == b)


def decode_or_decode_error(blob: bytes) -> None:
    try:
        result = SERIALIZER.blob_to_dict(blob)
    except DecodeError:
        return
    assert isinstance(result, dict)


@SETTINGS
@given(messages)
def test_round_trip_is_exact(message: dict[Any, Any]) -> None:
    decoded = SERIALIZER.blob_to_dict(SERIALIZER.dict_to_blob(message))
    assert same(decoded, expected(message))


@SETTINGS
@given(messages)
def test_encoding_is_deterministic(message: dict[Any, Any]) -> None:
    blob = SERIALIZER.dict_to_blob(message)
    assert SERIALIZER.dict_to_blob(message) == blob
    assert SERIALIZER.dict_to_blob(SERIALIZER.blob_to_dict(blob)) == blob


@SETTINGS
@given(naive_datetimes)
def test_naive_datetime_payload_is_exact_microseconds(value: datetime) -> None:
    blob = SERIALIZER.dict_to_blob({"v": value})
    delta = value - datetime(1970, 1, 1)
    micros = delta // timedelta(microseconds=1)
    assert blob[3:5] == b"\xd7\x01"
    assert struct.unpack(">q", blob[5:])[0] == micros


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_give_a_dict_or_decode_error(blob: bytes) -> None:
    decode_or_decode_error(blob)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_after_a_map_header_give_a_dict_or_decode_error(tail: bytes) -> None:
    decode_or_decode_error(b"\x81\xa1v" + tail)


@SETTINGS
@given(st.sampled_from([-1, 1, 2, 3, 4, 5, 10]), st.binary(max_size=16))
def test_random_extension_payloads_give_a_dict_or_decode_error(code: int, payload: bytes) -> None:
    decode_or_decode_error(b"\x81\xa1v" + bytes([0xC7, len(payload), code & 0xFF]) + payload)


@st.composite
def corrupted_blobs(draw: st.DrawFn) -> bytes:
    message: dict[Any, Any] = draw(messages)
    blob = bytearray(SERIALIZER.dict_to_blob(message))
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        position = draw(st.integers(0, max(len(blob) - 1, 0)))
        if operation == "flip" and blob:
            blob[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "truncate":
            del blob[position:]
        elif operation == "insert":
            blob[position:position] = bytes([draw(st.integers(0, 255))])
        elif blob:
            del blob[position]
    return bytes(blob)


@SETTINGS
@given(corrupted_blobs())
def test_corrupted_valid_blobs_give_a_dict_or_decode_error(blob: bytes) -> None:
    decode_or_decode_error(blob)


@SETTINGS
@given(st.one_of(st.dates(), st.times(), decimals, amounts, aware_datetimes))
def test_extension_values_round_trip_at_the_top_of_a_body(value: Any) -> None:
    decoded = SERIALIZER.blob_to_dict(SERIALIZER.dict_to_blob({"v": value}))["v"]
    assert same(decoded, expected(value))


def test_exact_comparison_tells_close_values_apart() -> None:
    # A sanity check of the comparison helper itself: it must tell these apart.
    assert not same(Decimal("NaN1"), Decimal("NaN2"))
    assert not same(0.0, -0.0)
    assert not same(Decimal("1.0"), Decimal("1.00"))
    assert not same(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 5, tzinfo=timezone(timedelta(hours=5))))
    assert same(float("nan"), float("nan"))
    assert not same(date(2020, 1, 1), datetime(2020, 1, 1))
