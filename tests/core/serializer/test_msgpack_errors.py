"""Bad input to the MessagePack serializer gives DecodeError / EncodeError with a clear message, and nothing else."""

from __future__ import annotations

import struct
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import msgpack
import pytest
from currint import Amount

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.errors import DecodeError, EncodeError

from .test_msgpack_golden import GOLDEN_ENVELOPE

PREFIX = bytes.fromhex("81 a1 76")  # {'v': ...}


def ext(code: int, payload: bytes) -> bytes:
    """A msgpack ext8 value (any payload length up to 255)."""
    return bytes([0xC7, len(payload), code & 0xFF]) + payload


def decimal_payload(text: bytes, declared: int | None = None) -> bytes:
    return struct.pack(">H", len(text) if declared is None else declared) + text


@pytest.fixture
def serializer() -> MsgpackSerializer:
    return MsgpackSerializer()


def decode_error(serializer: MsgpackSerializer, blob: Any) -> str:
    with pytest.raises(DecodeError) as info:
        serializer.blob_to_dict(blob)
    return str(info.value)


# --- decoding -------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", range(len(GOLDEN_ENVELOPE)))
def test_every_truncation_of_a_real_envelope_is_a_decode_error(serializer: MsgpackSerializer, length: int) -> None:
    decode_error(serializer, GOLDEN_ENVELOPE[:length])


def test_truncation_is_reported_as_such(serializer: MsgpackSerializer) -> None:
    assert "truncated" in decode_error(serializer, GOLDEN_ENVELOPE[:-1])


@pytest.mark.parametrize("code", [0, 6, 7, 9, 11, 42, 127, -2, -128])
def test_unknown_extension_type(serializer: MsgpackSerializer, code: int) -> None:
    message = decode_error(serializer, PREFIX + ext(code, b"\x00\x01"))
    assert f"unknown MessagePack extension type {code}" in message


BAD_EXT_PAYLOADS: dict[str, tuple[int, bytes, str]] = {
    "datetime too short": (1, b"\x00" * 7, "Invalid datetime"),
    "datetime too long": (1, b"\x00" * 9, "Invalid datetime"),
    "datetime out of range": (1, struct.pack(">q", 2**63 - 1), "Invalid datetime"),
    "datetime before year 1": (1, struct.pack(">q", -(2**63)), "Invalid datetime"),
    "utc datetime too short": (10, b"", "Invalid UTC datetime"),
    "utc datetime out of range": (10, struct.pack(">q", 2**62), "Invalid UTC datetime"),
    "amount too short": (2, b"USD" + b"\x00" * 7, "Invalid Amount"),
    "amount too long": (2, b"USD" + b"\x00" * 9, "Invalid Amount"),
    "amount non-ascii currency": (2, b"\xc3\xa9U" + b"\x00" * 8, "Invalid Amount"),
    "amount unknown currency": (2, b"QQQ" + b"\x00" * 8, "Invalid Amount"),
    "amount nul currency": (2, b"\x00\x00\x00" + b"\x00" * 8, "Invalid Amount"),
    "date too short": (3, b"\x07\xe4\x01", "Invalid date"),
    "date too long": (3, b"\x07\xe4\x01\x02\x00", "Invalid date"),
    "date year 0": (3, b"\x00\x00\x01\x01", "Invalid date"),
    "date year 10000": (3, struct.pack(">HBB", 10000, 1, 1), "Invalid date"),
    "date month 13": (3, b"\x07\xe4\x0d\x01", "Invalid date"),
    "date day 0": (3, b"\x07\xe4\x01\x00", "Invalid date"),
    "date february 30": (3, b"\x07\xe4\x02\x1e", "Invalid date"),
    "time too short": (4, b"\x03\x04\x05\x00\x00\x00", "Invalid time"),
    "time too long": (4, b"\x03\x04\x05\x00\x00\x00\x06\x00", "Invalid time"),
    "time hour 24": (4, struct.pack(">BBBI", 24, 0, 0, 0), "Invalid time"),
    "time minute 60": (4, struct.pack(">BBBI", 0, 60, 0, 0), "Invalid time"),
    "time second 60": (4, struct.pack(">BBBI", 0, 0, 60, 0), "Invalid time"),
    "time microsecond 10**6": (4, struct.pack(">BBBI", 0, 0, 0, 1_000_000), "Invalid time"),
    "decimal empty payload": (5, b"", "Invalid Decimal"),
    "decimal one byte": (5, b"\x00", "Invalid Decimal"),
    "decimal length too long": (5, decimal_payload(b"1.5", declared=5), "Invalid Decimal"),
    "decimal length too short": (5, decimal_payload(b"1.5", declared=2), "Invalid Decimal"),
    "decimal empty text": (5, decimal_payload(b""), "Invalid Decimal"),
    "decimal not a number": (5, decimal_payload(b"abc"), "Invalid Decimal"),
    "decimal two points": (5, decimal_payload(b"1.2.3"), "Invalid Decimal"),
    "decimal non-ascii digits": (5, decimal_payload("١٢".encode()), "Invalid Decimal"),
    "decimal exponent beyond limits": (5, decimal_payload(b"1E+99999999999999999999999"), "Invalid Decimal"),
    "timestamp bad length": (-1, b"\x00\x00\x00", "Invalid MessagePack message"),
    "timestamp bad nanoseconds": (-1, b"\xff" * 8, "Invalid MessagePack message"),
}


@pytest.mark.parametrize(("code", "payload", "expected"), BAD_EXT_PAYLOADS.values(), ids=BAD_EXT_PAYLOADS.keys())
def test_bad_extension_payload(serializer: MsgpackSerializer, code: int, payload: bytes, expected: str) -> None:
    assert expected in decode_error(serializer, PREFIX + ext(code, payload))


def test_bad_extension_payload_error_names_the_type_code(serializer: MsgpackSerializer) -> None:
    message = decode_error(serializer, PREFIX + ext(3, b"\x07\xe4\x0d\x01"))
    assert "extension type 3" in message
    assert "month must be in 1..12" in message


@pytest.mark.parametrize(
    "blob",
    [
        bytes.fromhex("91 01"),  # array
        bytes.fromhex("01"),  # int
        bytes.fromhex("a3 61 62 63"),  # str
        bytes.fromhex("c0"),  # nil
        bytes.fromhex("c4 01 00"),  # bin
        bytes.fromhex("d6 03 07 e4 01 02"),  # a date
    ],
    ids=["array", "int", "str", "nil", "bin", "date"],
)
def test_top_level_must_be_a_map(serializer: MsgpackSerializer, blob: bytes) -> None:
    assert "must be a MessagePack map" in decode_error(serializer, blob)


@pytest.mark.parametrize(
    "encoded",
    ["a1 ff", "a2 c0 80", "a2 e2 82", "a1 80", "a4 f4 90 80 80"],
    ids=["invalid start byte", "overlong", "cut sequence", "lone continuation", "above U+10FFFF"],
)
def test_invalid_utf8_in_a_string(serializer: MsgpackSerializer, encoded: str) -> None:
    assert "UnicodeDecodeError" in decode_error(serializer, PREFIX + bytes.fromhex(encoded))


def test_invalid_utf8_in_a_map_key(serializer: MsgpackSerializer) -> None:
    decode_error(serializer, bytes.fromhex("81 a1 ff 01"))


def test_surrogates_are_accepted_as_peers_send_them(serializer: MsgpackSerializer) -> None:
    # PySOA encodes str with 'surrogatepass', so a lone surrogate arrives as ED A0 80.
    assert serializer.blob_to_dict(PREFIX + bytes.fromhex("a3 ed a0 80")) == {"v": "\ud800"}


def test_trailing_bytes(serializer: MsgpackSerializer) -> None:
    assert "3 extra bytes" in decode_error(serializer, GOLDEN_ENVELOPE + b"\x80\x80\x80")


@pytest.mark.parametrize("type_byte", ["c1"], ids=["never-used"])
def test_invalid_type_byte(serializer: MsgpackSerializer, type_byte: str) -> None:
    assert "invalid type byte" in decode_error(serializer, PREFIX + bytes.fromhex(type_byte))


@pytest.mark.parametrize("key", ["91 01", "80", "81 a1 61 01"], ids=["array key", "empty map key", "map key"])
def test_unhashable_map_keys(serializer: MsgpackSerializer, key: str) -> None:
    decode_error(serializer, bytes.fromhex("81") + bytes.fromhex(key) + b"\x01")


def test_hashable_non_str_map_keys_are_accepted_like_pysoa(serializer: MsgpackSerializer) -> None:
    # PySOA 1.4 (msgpack 0.6) accepted any key; action bodies with int keys must keep working.
    message = {"body": {1: "int", 2.5: "float", None: "nil", False: "bool", b"k": "bytes", date(2020, 1, 2): "date"}}
    assert serializer.blob_to_dict(serializer.dict_to_blob(message)) == message


def test_standard_timestamp_extension_decodes_as_utc_datetime(serializer: MsgpackSerializer) -> None:
    blob = PREFIX + bytes.fromhex("d6 ff") + struct.pack(">I", 1_600_000_000)
    decoded = serializer.blob_to_dict(blob)["v"]
    assert decoded == datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)


def test_too_deeply_nested(serializer: MsgpackSerializer) -> None:
    assert "nested too deeply" in decode_error(serializer, PREFIX + b"\x91" * 5000 + b"\x01")


@pytest.mark.parametrize("blob", ["not bytes", None, 42, [0x80]], ids=["str", "None", "int", "list"])
def test_input_that_is_not_bytes(serializer: MsgpackSerializer, blob: Any) -> None:
    decode_error(serializer, blob)


def test_bytearray_and_memoryview_are_accepted(serializer: MsgpackSerializer) -> None:
    for blob in (bytearray(GOLDEN_ENVELOPE), memoryview(GOLDEN_ENVELOPE)):
        as_any: Any = blob
        assert serializer.blob_to_dict(as_any)["request_id"] == 42


def test_empty_input(serializer: MsgpackSerializer) -> None:
    decode_error(serializer, b"")


# --- size limit and hostile headers --------------------------------------------------------------


def test_size_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("decoded an oversized message")

    monkeypatch.setattr(msgpack, "unpackb", must_not_run)
    serializer = MsgpackSerializer(max_message_size_in_bytes=len(GOLDEN_ENVELOPE) - 1)
    message = decode_error(serializer, GOLDEN_ENVELOPE)
    assert f"{len(GOLDEN_ENVELOPE)} bytes exceeds the limit of {len(GOLDEN_ENVELOPE) - 1} bytes" in message


def test_message_exactly_at_the_size_limit_decodes() -> None:
    serializer = MsgpackSerializer(max_message_size_in_bytes=len(GOLDEN_ENVELOPE))
    assert serializer.blob_to_dict(GOLDEN_ENVELOPE)["request_id"] == 42


@pytest.fixture
def peak_allocation() -> Iterator[Callable[[], int]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


HOSTILE_HEADERS = {
    "array32 of 2**32-1": "dd ff ff ff ff",
    "map32 of 2**32-1": "df ff ff ff ff",
    "bin32 of 4 GB": "c6 ff ff ff ff",
    "str32 of 4 GB": "db ff ff ff ff",
    "ext32 of 4 GB": "c9 ff ff ff ff 05",
    "array16 of 65535": "dc ff ff",
    "map16 of 65535": "de ff ff",
}


@pytest.mark.parametrize("header", HOSTILE_HEADERS.values(), ids=HOSTILE_HEADERS.keys())
@pytest.mark.parametrize("where", ["top level", "in a map"])
def test_small_blob_claiming_a_huge_value_allocates_nothing_big(
    serializer: MsgpackSerializer, peak_allocation: Callable[[], int], header: str, where: str
) -> None:
    blob = bytes.fromhex(header)
    if where == "in a map":
        blob = PREFIX + blob
    decode_error(serializer, blob)
    assert peak_allocation() < 256 * 1024


def test_nested_lying_array_headers_stay_bounded(
    serializer: MsgpackSerializer, peak_allocation: Callable[[], int]
) -> None:
    # 1000 nested arrays, each claiming as many elements as the whole blob has bytes (the most any
    # valid message could need). msgpack preallocates only a capped number of slots per array and
    # stops at ~1000 levels, so the transient peak is bounded whatever the message size.
    claimed = 200_000
    blob = PREFIX + (b"\xdd" + struct.pack(">I", claimed)) * 1000
    blob += b"\x00" * (claimed - len(blob))
    assert "truncated" in decode_error(serializer, blob)
    assert peak_allocation() < 128 * 1024 * 1024


# --- encoding -------------------------------------------------------------------------------------


class Custom:
    pass


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        ({1, 2}, "set"),
        (frozenset(), "frozenset"),
        (object(), "object"),
        (1j, "complex"),
        (Custom(), f"{__name__}.Custom"),
        (timedelta(seconds=1), "datetime.timedelta"),
        (Exception("x"), "Exception"),
        (range(3), "range"),
    ],
    ids=["set", "frozenset", "object", "complex", "custom class", "timedelta", "exception", "range"],
)
def test_unsupported_type_names_the_type_and_where_it_is(
    serializer: MsgpackSerializer, value: Any, type_name: str
) -> None:
    with pytest.raises(EncodeError) as info:
        serializer.dict_to_blob({"body": {"actions": [{"x": 1}, {"y": [0, value]}]}})
    assert str(info.value) == f"Cannot serialize value of type {type_name} (at body.actions.1.y.1)"


def test_unsupported_top_level_value(serializer: MsgpackSerializer) -> None:
    with pytest.raises(EncodeError, match=r"^Cannot serialize value of type set \(at v\)$"):
        serializer.dict_to_blob({"v": {1}})


def test_unsupported_key(serializer: MsgpackSerializer) -> None:
    with pytest.raises(EncodeError, match=r"value of type frozenset \(at body\.frozenset\(\{1\}\) \(a key\)\)"):
        serializer.dict_to_blob({"body": {frozenset({1}): 1}})


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**30])
def test_integer_out_of_64_bit_range(serializer: MsgpackSerializer, number: int) -> None:
    with pytest.raises(EncodeError, match=rf"Cannot serialize integer {number}: outside the 64-bit range"):
        serializer.dict_to_blob({"v": number})


@pytest.mark.parametrize("number", [2**64 - 1, -(2**63)])
def test_integer_range_limits_are_carried(serializer: MsgpackSerializer, number: int) -> None:
    assert serializer.blob_to_dict(serializer.dict_to_blob({"v": number})) == {"v": number}


def test_amount_without_currency(serializer: MsgpackSerializer) -> None:
    with pytest.raises(EncodeError, match="Cannot serialize Amount with currency None"):
        serializer.dict_to_blob({"v": Amount.ZERO})


def test_amount_beyond_64_bits(serializer: MsgpackSerializer) -> None:
    with pytest.raises(EncodeError, match="not a 64-bit integer"):
        serializer.dict_to_blob({"v": Amount.from_code_and_minor("USD", 2**63)})


def test_decimal_longer_than_the_length_field_is_refused_not_truncated(serializer: MsgpackSerializer) -> None:
    with pytest.raises(EncodeError, match="Decimal of 70000 characters"):
        serializer.dict_to_blob({"v": Decimal("1" * 70000)})


def test_aware_datetime_outside_the_utc_range(serializer: MsgpackSerializer) -> None:
    ahead = timezone(timedelta(hours=5))
    with pytest.raises(EncodeError, match="out of range once converted to UTC"):
        serializer.dict_to_blob({"v": datetime(1, 1, 1, tzinfo=ahead)})
    with pytest.raises(EncodeError, match="out of range once converted to UTC"):
        serializer.dict_to_blob({"v": datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))})


def test_naive_datetime_extremes_round_trip(serializer: MsgpackSerializer) -> None:
    message = {"min": datetime.min, "max": datetime.max, "utc_min": datetime.min.replace(tzinfo=UTC)}
    assert serializer.blob_to_dict(serializer.dict_to_blob(message)) == message


class BrokenZone(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("zone database unavailable")

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "broken"


def test_error_raised_by_a_value_becomes_encode_error(serializer: MsgpackSerializer) -> None:
    with pytest.raises(EncodeError, match="RuntimeError: zone database unavailable"):
        serializer.dict_to_blob({"v": datetime(2020, 1, 1, tzinfo=BrokenZone())})


def test_message_that_contains_itself(serializer: MsgpackSerializer) -> None:
    message: dict[str, Any] = {}
    message["self"] = message
    with pytest.raises(EncodeError, match="nested too deeply or contains itself"):
        serializer.dict_to_blob(message)


@pytest.mark.parametrize("message", [[1, 2], "text", None, 42], ids=["list", "str", "None", "int"])
def test_message_must_be_a_dict(serializer: MsgpackSerializer, message: Any) -> None:
    with pytest.raises(EncodeError, match="A message must be a dict"):
        serializer.dict_to_blob(message)


def test_other_mappings_are_accepted_at_the_top_level(serializer: MsgpackSerializer) -> None:
    assert serializer.blob_to_dict(serializer.dict_to_blob(MappingProxyType({"a": 1}))) == {"a": 1}


def test_failed_encode_does_not_disturb_the_next_one(serializer: MsgpackSerializer) -> None:
    # The packer is reused; a failure half-way must not leave bytes behind.
    with pytest.raises(EncodeError):
        serializer.dict_to_blob({"a": "x" * 100, "b": {1}})
    assert serializer.dict_to_blob({"a": 1}) == bytes.fromhex("81 a1 61 01")


def test_surrogates_fall_back_without_affecting_other_strings(serializer: MsgpackSerializer) -> None:
    message = {"a": "héllo", "b": ["\udcff", "ok"], "c": {"\ud83d": time(1, 2, 3)}}
    assert serializer.blob_to_dict(serializer.dict_to_blob(message)) == message
