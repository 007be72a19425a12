"""The MessagePack serializer writes and reads exactly the bytes of the reference encodings in docs/protocol.md."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from currint import Amount

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from pysoa.common.utc import UTC  # what aware datetimes decode with (equal to pytz.UTC)
from pysoa.plugins import PluginManager

# Each vector is ``{'v': value}``; the encoding below follows the ``81 a1 76`` prefix.
PREFIX = bytes.fromhex("81 a1 76")

GOLDEN: list[tuple[str, Any, str]] = [
    ("naive datetime", datetime(2020, 1, 2, 3, 4, 5, 678901), "d7 01 00 05 9b 1f 72 31 4f 35"),
    ("utc datetime", datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "d7 0a 00 05 9b 1f 72 31 4f 35"),
    ("epoch", datetime(1970, 1, 1), "d7 01 00 00 00 00 00 00 00 00"),
    ("before epoch", datetime(1969, 12, 31, 23, 59, 59), "d7 01 ff ff ff ff ff f0 bd c0"),
    ("date", date(2020, 1, 2), "d6 03 07 e4 01 02"),
    ("first date", date(1, 1, 1), "d6 03 00 01 01 01"),
    ("time", time(3, 4, 5, 6), "c7 07 04 03 04 05 00 00 00 06"),
    ("last time", time(23, 59, 59, 999999), "c7 07 04 17 3b 3b 00 0f 42 3f"),
    ("decimal", Decimal("12.3400"), "c7 09 05 00 07 31 32 2e 33 34 30 30"),
    ("negative decimal", Decimal("-0.5"), "c7 06 05 00 04 2d 30 2e 35"),
    ("decimal nan", Decimal("NaN"), "c7 05 05 00 03 4e 61 4e"),
    ("usd amount", Amount.from_code_and_minor("USD", 1234), "c7 0b 02 55 53 44 00 00 00 00 00 00 04 d2"),
    ("negative jpy amount", Amount.from_code_and_minor("JPY", -5), "c7 0b 02 4a 50 59 ff ff ff ff ff ff ff fb"),
    ("bytes", b"\x00\x01", "c4 02 00 01"),
    ("str", "héllo", "a6 68 c3 a9 6c 6c 6f"),
    ("float", 0.1, "cb 3f b9 99 99 99 99 99 9a"),
    ("uint64", 2**40, "cf 00 00 01 00 00 00 00 00"),
    ("lone surrogate", "\ud800", "a3 ed a0 80"),
]

GOLDEN_ENVELOPE = bytes.fromhex(
    "83aa726571756573745f69642aa46d65746183ae636c69656e745f76657273696f6e93010409a87265706c795f746fd93a7365727669"
    "63652e6563686f2e303132333435363738396162636465663031323334353637383961626364656621303030303766303030306161aa"
    "5f5f6578706972795f5fcb41d954fc40200000a4626f647983a7636f6e74726f6c82b1636f6e74696e75655f6f6e5f6572726f72c2b1"
    "73757070726573735f726573706f6e7365c2a7636f6e7465787482ae636f7272656c6174696f6e5f6964a3616263a873776974636865"
    "739103a7616374696f6e739182a6616374696f6ea46563686fa4626f647981a17801"
)
GOLDEN_ENVELOPE_DICT = {
    "request_id": 42,
    "meta": {
        "client_version": [1, 4, 9],
        "reply_to": "service.echo.0123456789abcdef0123456789abcdef!00007f0000aa",
        "__expiry__": 1700000000.5,
    },
    "body": {
        "control": {"continue_on_error": False, "suppress_response": False},
        "context": {"correlation_id": "abc", "switches": [3]},
        "actions": [{"action": "echo", "body": {"x": 1}}],
    },
}


@pytest.fixture
def serializer() -> MsgpackSerializer:
    return MsgpackSerializer()


@pytest.mark.parametrize(("value", "encoding"), [(v, e) for _, v, e in GOLDEN], ids=[n for n, _, _ in GOLDEN])
def test_encodes_golden_vector(serializer: MsgpackSerializer, value: Any, encoding: str) -> None:
    assert serializer.dict_to_blob({"v": value}) == PREFIX + bytes.fromhex(encoding)


@pytest.mark.parametrize(("value", "encoding"), [(v, e) for _, v, e in GOLDEN], ids=[n for n, _, _ in GOLDEN])
def test_decodes_golden_vector(serializer: MsgpackSerializer, value: Any, encoding: str) -> None:
    decoded = serializer.blob_to_dict(PREFIX + bytes.fromhex(encoding))["v"]
    assert type(decoded) is type(value)
    if isinstance(value, Decimal):
        assert decoded.compare_total(value) == 0  # also equal for NaN, and keeps trailing zeros
    else:
        assert decoded == value
    if isinstance(value, datetime):
        assert decoded.tzinfo is value.tzinfo


@pytest.mark.parametrize(
    "tz",
    [timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8)), timezone(timedelta(0))],
    ids=["+05:30", "-08:00", "utc-as-offset"],
)
def test_any_aware_datetime_is_sent_as_its_utc_instant(serializer: MsgpackSerializer, tz: timezone) -> None:
    instant = datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    blob = serializer.dict_to_blob({"v": instant.astimezone(tz)})
    assert blob == PREFIX + bytes.fromhex("d7 0a 00 05 9b 1f 72 31 4f 35")
    decoded = serializer.blob_to_dict(blob)["v"]
    assert decoded == instant
    assert decoded.tzinfo is UTC


def test_zoneinfo_datetime_is_converted_to_utc(serializer: MsgpackSerializer) -> None:
    local = datetime(2020, 7, 1, 12, 0, tzinfo=ZoneInfo("America/New_York"))  # EDT, UTC-4
    decoded = serializer.blob_to_dict(serializer.dict_to_blob({"v": local}))["v"]
    assert decoded == datetime(2020, 7, 1, 16, 0, tzinfo=UTC)
    assert decoded.tzinfo is UTC


def test_datetime_microseconds_are_exact_where_a_float_path_loses_one(serializer: MsgpackSerializer) -> None:
    # PySOA 1.4 computes this one through a float and sends ...286; the exact value is ...287.
    value = datetime(2107, 1, 26, 14, 41, 11, 827287)
    blob = serializer.dict_to_blob({"v": value})
    assert blob == PREFIX + bytes.fromhex("d7 01") + (4325496071827287).to_bytes(8, "big", signed=True)
    assert serializer.blob_to_dict(blob)["v"] == value


def test_time_zone_of_a_time_is_dropped(serializer: MsgpackSerializer) -> None:
    blob = serializer.dict_to_blob({"v": time(3, 4, 5, 6, tzinfo=timezone(timedelta(hours=2)))})
    assert blob == PREFIX + bytes.fromhex("c7 07 04 03 04 05 00 00 00 06")
    assert serializer.blob_to_dict(blob)["v"].tzinfo is None


def test_tuples_encode_as_arrays_and_decode_as_lists(serializer: MsgpackSerializer) -> None:
    blob = serializer.dict_to_blob({"v": (1, (2, 3))})
    assert blob == PREFIX + bytes.fromhex("92 01 92 02 03")
    assert serializer.blob_to_dict(blob) == {"v": [1, [2, 3]]}


def test_map_order_is_preserved(serializer: MsgpackSerializer) -> None:
    message = {"z": 1, "a": 2, "m": {"y": 3, "b": 4}}
    decoded = serializer.blob_to_dict(serializer.dict_to_blob(message))
    assert list(decoded) == ["z", "a", "m"]
    assert list(decoded["m"]) == ["y", "b"]


def test_golden_envelope_decodes_to_the_stated_dict(serializer: MsgpackSerializer) -> None:
    assert len(GOLDEN_ENVELOPE) == 250
    decoded = serializer.blob_to_dict(GOLDEN_ENVELOPE)
    assert decoded == GOLDEN_ENVELOPE_DICT
    assert list(decoded) == ["request_id", "meta", "body"]


def test_golden_envelope_reencodes_to_identical_bytes(serializer: MsgpackSerializer) -> None:
    assert serializer.dict_to_blob(serializer.blob_to_dict(GOLDEN_ENVELOPE)) == GOLDEN_ENVELOPE
    assert serializer.dict_to_blob(GOLDEN_ENVELOPE_DICT) == GOLDEN_ENVELOPE


def test_plugin_manager_finds_the_builtin_serializer() -> None:
    manager = PluginManager(autoload=False)
    assert manager.serializer("msgpack") is MsgpackSerializer
    assert manager.serializer_for_mime_type("application/msgpack") is MsgpackSerializer
    assert MsgpackSerializer.name == "msgpack"
    assert MsgpackSerializer.mime_type == "application/msgpack"


def test_pysoa_import_paths_still_resolve() -> None:
    # PySOA settings name the class as 'pysoa.common.serializer.msgpack_serializer:MsgpackSerializer'
    # or 'pysoa.common.serializer:MsgpackSerializer'.
    import importlib

    import pysoa.common.serializer as package

    module = importlib.import_module("pysoa.common.serializer.msgpack_serializer")
    assert module.MsgpackSerializer is MsgpackSerializer
    assert package.MsgpackSerializer is MsgpackSerializer
