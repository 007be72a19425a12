"""soa-json's JSONSerializer: plain UTF-8 JSON, clear errors, interoperable with PySOA 1.4's json.dumps."""

from __future__ import annotations

import importlib.metadata
import json
import math
from datetime import date, datetime, time
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from currint import Amount
from hypothesis import given, settings
from hypothesis import strategies as st

import soa_json.hooks
import soa_json.serializer
from pysoa.common.serializer.base import Serializer
from pysoa.errors import DecodeError, EncodeError
from pysoa.plugins import PluginManager
from soa_json import JSONSerializer

ENVELOPE = {
    "request_id": 42,
    "meta": {"client_version": [1, 4, 9], "reply_to": "service.echo.0123!00007f0000aa", "__expiry__": 1700000000.5},
    "body": {
        "control": {"continue_on_error": False, "suppress_response": False},
        "context": {"correlation_id": "abc", "switches": [3]},
        "actions": [{"action": "echo", "body": {"x": 1, "name": "héllo wörld ✓ 🎉"}}],
    },
}


@pytest.fixture
def serializer() -> JSONSerializer:
    return JSONSerializer()


# --- registration -------------------------------------------------------------------------------


def test_is_a_serializer_with_its_plugin_name_and_mime_type() -> None:
    assert issubclass(JSONSerializer, Serializer)
    assert JSONSerializer.name == "json"
    assert JSONSerializer.mime_type == "application/json"


def test_registers_through_its_hooks_module() -> None:
    manager = PluginManager(autoload=False)
    manager.register(soa_json.hooks, name="json")
    assert manager.serializer("json") is JSONSerializer
    assert manager.serializer_for_mime_type("application/json") is JSONSerializer
    assert "json" in manager.names("serializer")
    assert "msgpack" in manager.names("serializer")


def test_is_found_through_its_entry_point() -> None:
    # Load only soa-json's entry point: other plugins are not under test here.
    others = {ep.name for ep in importlib.metadata.entry_points(group="pysoa") if ep.name != "json"}
    manager = PluginManager(autoload=True, blocked=others)
    assert manager.serializer("json") is JSONSerializer
    assert manager.serializer_for_mime_type("application/json") is JSONSerializer
    assert manager.serializers()["json"].distribution == "soa-json"


def test_pysoa_import_path_still_resolves() -> None:
    import pysoa.common.serializer

    assert pysoa.common.serializer.JSONSerializer is JSONSerializer


# --- encoding -----------------------------------------------------------------------------------


def test_output_is_compact_utf8(serializer: JSONSerializer) -> None:
    blob = serializer.dict_to_blob({"a": 1, "b": [True, None, 1.5], "c": "héllo", "d": (1, 2)})
    assert blob == '{"a":1,"b":[true,null,1.5],"c":"héllo","d":[1,2]}'.encode()


def test_round_trip_of_a_job_envelope(serializer: JSONSerializer) -> None:
    decoded = serializer.blob_to_dict(serializer.dict_to_blob(ENVELOPE))
    assert decoded == ENVELOPE
    assert list(decoded) == ["request_id", "meta", "body"]


def test_reads_what_pysoa_writes(serializer: JSONSerializer) -> None:
    # PySOA 1.4.9: json.dumps(message).encode('utf-8'): spaces and \\uXXXX escapes.
    blob = json.dumps(ENVELOPE).encode("utf-8")
    assert b"\\u00e9" in blob
    assert serializer.blob_to_dict(blob) == ENVELOPE


def test_pysoa_reads_what_it_writes(serializer: JSONSerializer) -> None:
    # PySOA 1.4.9: json.loads(blob.decode('utf-8')).
    assert json.loads(serializer.dict_to_blob(ENVELOPE).decode("utf-8")) == ENVELOPE


def test_lone_surrogates_are_escaped_and_round_trip(serializer: JSONSerializer) -> None:
    message = {"a": "x\ud800y", "b": "é", "\udcff": 1}
    blob = serializer.dict_to_blob(message)
    assert blob.isascii()
    assert b"\\ud800" in blob
    assert serializer.blob_to_dict(blob) == message


def test_non_str_keys_become_strings_like_json_dumps(serializer: JSONSerializer) -> None:
    assert serializer.blob_to_dict(serializer.dict_to_blob({"m": {1: "a", None: "b", False: "c", 2.5: "d"}})) == {
        "m": {"1": "a", "null": "b", "false": "c", "2.5": "d"}
    }


def test_big_integers_are_carried(serializer: JSONSerializer) -> None:
    message = {"big": 2**200, "negative": -(2**100)}
    assert serializer.blob_to_dict(serializer.dict_to_blob(message)) == message


class Custom:
    pass


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (b"\x00", "bytes"),
        (bytearray(b"x"), "bytearray"),
        (datetime(2020, 1, 2), "datetime.datetime"),
        (date(2020, 1, 2), "datetime.date"),
        (time(1, 2), "datetime.time"),
        (Decimal("1.5"), "decimal.Decimal"),
        ({1, 2}, "set"),
        (Amount.from_code_and_minor("USD", 5), "currint.amount.Amount"),
        (Custom(), f"{__name__}.Custom"),
        (1j, "complex"),
    ],
    ids=["bytes", "bytearray", "datetime", "date", "time", "Decimal", "set", "Amount", "custom", "complex"],
)
def test_values_json_cannot_carry(serializer: JSONSerializer, value: Any, type_name: str) -> None:
    with pytest.raises(EncodeError) as info:
        serializer.dict_to_blob({"body": {"actions": [{"x": 1}, {"y": [0, value]}]}})
    assert str(info.value) == f"Cannot serialize value of type {type_name} to JSON (at body.actions.1.y.1)"


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_nan_and_infinity_are_refused(serializer: JSONSerializer, number: float) -> None:
    with pytest.raises(EncodeError) as info:
        serializer.dict_to_blob({"a": 1.0, "b": {"c": [2.0, number]}})
    assert str(info.value) == "Cannot serialize NaN or Infinity: not valid JSON (at b.c.1)"


def test_key_of_an_unsupported_type(serializer: JSONSerializer) -> None:
    with pytest.raises(EncodeError, match="keys must be str, int, float, bool or None, not tuple"):
        serializer.dict_to_blob({"a": {(1, 2): 3}})


def test_message_that_contains_itself(serializer: JSONSerializer) -> None:
    message: dict[str, Any] = {"a": []}
    message["a"].append(message)
    with pytest.raises(EncodeError, match="Circular reference"):
        serializer.dict_to_blob(message)


@pytest.mark.parametrize("message", [[1], "text", None, 3], ids=["list", "str", "None", "int"])
def test_message_must_be_a_dict(serializer: JSONSerializer, message: Any) -> None:
    with pytest.raises(EncodeError, match="A message must be a dict"):
        serializer.dict_to_blob(message)


def test_other_mappings_are_accepted_at_the_top_level(serializer: JSONSerializer) -> None:
    assert serializer.dict_to_blob(MappingProxyType({"a": 1})) == b'{"a":1}'


# --- decoding -----------------------------------------------------------------------------------


def decode_error(serializer: JSONSerializer, blob: Any) -> str:
    with pytest.raises(DecodeError) as info:
        serializer.blob_to_dict(blob)
    return str(info.value)


@pytest.mark.parametrize(
    "blob",
    [b'{"a":"\xff"}', b'{"a":"\xc0\x80"}', b'{"a":"\xed\xa0\x80"}', b'{"a":"\xe2\x82"}'],
    ids=["invalid byte", "overlong", "encoded surrogate", "cut sequence"],
)
def test_invalid_utf8(serializer: JSONSerializer, blob: bytes) -> None:
    assert "not UTF-8" in decode_error(serializer, blob)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_other_unicode_encodings_are_refused(serializer: JSONSerializer, encoding: str) -> None:
    # json.loads(bytes) would guess these; the wire says UTF-8.
    decode_error(serializer, '{"a": 1}'.encode(encoding))


@pytest.mark.parametrize(
    "blob",
    [b"", b"   ", b'{"a":', b'{"a":1} {}', b"{'a':1}", b'{"a":1,}', b"{a:1}", b'\xef\xbb\xbf{"a":1}', b'{"a":01}'],
    ids=["empty", "blank", "truncated", "trailing data", "single quotes", "trailing comma", "bare key", "BOM", "0-led"],
)
def test_invalid_json(serializer: JSONSerializer, blob: bytes) -> None:
    assert decode_error(serializer, blob).startswith("Invalid JSON message")


@pytest.mark.parametrize(
    ("blob", "type_name"), [(b"[1]", "list"), (b'"a"', "str"), (b"1", "int"), (b"null", "NoneType")]
)
def test_top_level_must_be_an_object(serializer: JSONSerializer, blob: bytes, type_name: str) -> None:
    assert decode_error(serializer, blob) == f"A message must be a JSON object, not {type_name}"


def test_too_deeply_nested(serializer: JSONSerializer) -> None:
    assert "nested too deeply" in decode_error(serializer, b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")


def test_huge_integer_literal(serializer: JSONSerializer) -> None:
    decode_error(serializer, b'{"a":' + b"1" * 5000 + b"}")


@pytest.mark.parametrize("blob", ["{}", None, 42], ids=["str", "None", "int"])
def test_input_that_is_not_bytes(serializer: JSONSerializer, blob: Any) -> None:
    assert "expected bytes" in decode_error(serializer, blob)


def test_nan_literals_from_pysoa_peers_are_accepted(serializer: JSONSerializer) -> None:
    decoded = serializer.blob_to_dict(b'{"a": NaN, "b": Infinity, "c": -Infinity}')
    assert math.isnan(decoded["a"])
    assert decoded["b"] == math.inf
    assert decoded["c"] == -math.inf


def test_size_limit_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    class MustNotDecode:
        def decode(self, text: str) -> Any:
            raise AssertionError("decoded an oversized message")

    monkeypatch.setattr(soa_json.serializer, "_DECODER", MustNotDecode())
    blob = b'{"a":"' + b"x" * 100 + b'"}'
    message = decode_error(JSONSerializer(max_message_size_in_bytes=len(blob) - 1), blob)
    assert message == f"Message of {len(blob)} bytes exceeds the limit of {len(blob) - 1} bytes"


def test_message_exactly_at_the_size_limit_decodes() -> None:
    blob = b'{"a":"' + b"x" * 100 + b'"}'
    assert JSONSerializer(max_message_size_in_bytes=len(blob)).blob_to_dict(blob) == {"a": "x" * 100}


def test_bytearray_and_memoryview_are_accepted(serializer: JSONSerializer) -> None:
    for blob in (bytearray(b'{"a":1}'), memoryview(b'{"a":1}')):
        as_any: Any = blob
        assert serializer.blob_to_dict(as_any) == {"a": 1}


# --- properties ---------------------------------------------------------------------------------

json_texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**100), 2**100)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_texts,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(json_texts, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(json_texts, json_values, max_size=6))
def test_round_trip_of_json_values(message: dict[str, Any]) -> None:
    serializer = JSONSerializer()
    assert serializer.blob_to_dict(serializer.dict_to_blob(message)) == message


@settings(max_examples=250, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_random_bytes_give_a_dict_or_decode_error(blob: bytes) -> None:
    try:
        result = JSONSerializer().blob_to_dict(blob)
    except DecodeError:
        return
    assert isinstance(result, dict)
