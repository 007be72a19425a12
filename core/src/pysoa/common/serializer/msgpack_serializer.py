"""The built-in MessagePack serializer (``msgpack``, ``application/msgpack``), wire-compatible with PySOA 1.4.

Besides msgpack's own types it carries these as extension types (payloads big-endian):

=====  ==========================  ==================================================================
 ext    Python type                 payload
=====  ==========================  ==================================================================
 1      naive ``datetime``          int64 microseconds since 1970-01-01
 10     aware ``datetime``          int64 microseconds since 1970-01-01 UTC; any time zone is
                                    converted to UTC on encode; decodes with :data:`pysoa.common.utc.UTC`,
                                    which equals PySOA's ``pytz.UTC`` (see that module)
 2      ``currint.Amount``          3 ASCII bytes currency code + int64 minor units
 3      ``date``                    uint16 year, uint8 month, uint8 day
 4      ``time``                    uint8 hour, minute, second + uint32 microsecond (tzinfo dropped)
 5      ``Decimal``                 uint16 length + ASCII of ``str(value)``
=====  ==========================  ==================================================================

Datetime microseconds are computed with integer arithmetic, so every datetime survives a round trip
exactly (PySOA 1.4 went through a float and lost 1 µs on about 2% of them; its decoder rounds, so it
reads our exact values correctly).

Decoding choices, for peers other than PySOA:

* map keys may be any hashable msgpack value (str, bytes, int, float, bool, nil, extension values),
  as PySOA 1.4 (msgpack 0.6) allowed; a key that is an array or a map is a :class:`DecodeError`.
* msgpack's standard timestamp extension (-1) decodes as an aware datetime in ``timezone.utc``
  (msgpack's choice; PySOA never sent it); we never emit it.
* arrays decode as lists, bin as bytes, str as str (lone surrogates pass through as ``surrogatepass``).
* Decimal text is parsed by ``Decimal()``, so other ASCII spellings of a number (``1e5``, ``inf``)
  are accepted as well as ``str(value)``.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

import msgpack
from currint import Amount

from pysoa.common.serializer.base import Serializer, find_value_path
from pysoa.common.utc import UTC
from pysoa.errors import DecodeError, EncodeError

__all__ = ["MsgpackSerializer"]

EXT_DATETIME: Final = 1
EXT_CURRINT: Final = 2
EXT_DATE: Final = 3
EXT_TIME: Final = 4
EXT_DECIMAL: Final = 5
EXT_DATETIME_UTC: Final = 10

_INT64: Final = struct.Struct(">q")
_AMOUNT: Final = struct.Struct(">3sq")
_DATE: Final = struct.Struct(">HBB")
_TIME: Final = struct.Struct(">BBBI")
_UINT16: Final = struct.Struct(">H")

_EPOCH: Final = datetime(1970, 1, 1)
_EPOCH_UTC: Final = datetime(1970, 1, 1, tzinfo=UTC)
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_MAX_DECIMAL_TEXT: Final = 0xFFFF


def _micros(delta: timedelta) -> int:
    # Exact integer arithmetic: a float path (PySOA's) loses 1 µs on some values.
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# Aware datetimes are converted to UTC; one that then falls outside datetime's range could be
# encoded but never decoded, so it is refused on encode.
_MIN_MICROS: Final = _micros(datetime.min - _EPOCH)
_MAX_MICROS: Final = _micros(datetime.max - _EPOCH)


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class _Unsupported(Exception):
    """Raised by the packer hook; :meth:`MsgpackSerializer.dict_to_blob` adds where the value is."""

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(reason)
        self.value = value
        self.reason = reason


# --- encoding ---------------------------------------------------------------------------------------


def _encode_datetime(value: datetime) -> msgpack.ExtType:
    if value.utcoffset() is None:
        return msgpack.ExtType(EXT_DATETIME, _INT64.pack(_micros(value - _EPOCH)))
    micros = _micros(value - _EPOCH_UTC)
    if not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise _Unsupported(value, f"Cannot serialize datetime {value.isoformat()}: out of range once converted to UTC")
    return msgpack.ExtType(EXT_DATETIME_UTC, _INT64.pack(micros))


def _encode_amount(value: Amount) -> msgpack.ExtType:
    currency = value.currency
    code = getattr(currency, "code", None)
    minor = value.value
    if not isinstance(code, str) or len(code) != 3 or not code.isascii():
        raise _Unsupported(value, f"Cannot serialize Amount with currency {currency!r}: needs a 3-letter ASCII code")
    if not isinstance(minor, int) or not _INT64_MIN <= minor <= _INT64_MAX:
        raise _Unsupported(value, f"Cannot serialize Amount of {minor!r} minor units: not a 64-bit integer")
    return msgpack.ExtType(EXT_CURRINT, _AMOUNT.pack(code.encode("ascii"), minor))


def _encode_decimal(value: Decimal) -> msgpack.ExtType:
    text = str(value).encode("ascii")
    if len(text) > _MAX_DECIMAL_TEXT:
        # PySOA silently truncated such values; a wrong number is worse than an error.
        raise _Unsupported(value, f"Cannot serialize Decimal of {len(text)} characters (at most {_MAX_DECIMAL_TEXT})")
    return msgpack.ExtType(EXT_DECIMAL, _UINT16.pack(len(text)) + text)


def _encode_other(value: object) -> msgpack.ExtType:
    """The packer's ``default``: called only for values msgpack cannot pack by itself."""
    # datetime before date: datetime is a subclass of date.
    if isinstance(value, datetime):
        return _encode_datetime(value)
    if isinstance(value, Decimal):
        return _encode_decimal(value)
    if isinstance(value, date):
        return msgpack.ExtType(EXT_DATE, _DATE.pack(value.year, value.month, value.day))
    if isinstance(value, time):
        return msgpack.ExtType(EXT_TIME, _TIME.pack(value.hour, value.minute, value.second, value.microsecond))
    if isinstance(value, Amount):
        return _encode_amount(value)
    if isinstance(value, int):
        raise _Unsupported(value, f"Cannot serialize integer {value}: outside the 64-bit range MessagePack carries")
    raise _Unsupported(value, f"Cannot serialize value of type {_type_name(value)}")


# Packers are reused (building one per call costs about as much as packing a small message) but
# are not thread-safe, so each thread gets its own. The fast packer uses msgpack's direct UTF-8
# path; strings holding lone surrogates are rare and fall back to the ``surrogatepass`` one.
_packers = threading.local()


def _new_fast_packer() -> msgpack.Packer:
    """This thread's fast packer, made on its first message (``dict_to_blob`` looks it up inline)."""
    packer: msgpack.Packer = msgpack.Packer(default=_encode_other, use_bin_type=True)
    _packers.fast = packer
    return packer


def _surrogate_packer() -> msgpack.Packer:
    try:
        packer: msgpack.Packer = _packers.surrogate
    except AttributeError:
        packer = _packers.surrogate = msgpack.Packer(
            default=_encode_other, use_bin_type=True, unicode_errors="surrogatepass"
        )
    return packer


# --- decoding ---------------------------------------------------------------------------------------


def _decode_datetime(data: bytes) -> datetime:
    return _EPOCH + timedelta(microseconds=_INT64.unpack(data)[0])


def _decode_datetime_utc(data: bytes) -> datetime:
    return _EPOCH_UTC + timedelta(microseconds=_INT64.unpack(data)[0])


def _decode_amount(data: bytes) -> Amount:
    code, minor = _AMOUNT.unpack(data)
    return Amount.from_code_and_minor(code.decode("ascii"), minor)


def _decode_date(data: bytes) -> date:
    return date(*_DATE.unpack(data))


def _decode_time(data: bytes) -> time:
    return time(*_TIME.unpack(data))


def _decode_decimal(data: bytes) -> Decimal:
    (length,) = _UINT16.unpack_from(data)
    if length != len(data) - 2:
        raise ValueError(f"declares {length} characters but carries {len(data) - 2}")
    return Decimal(data[2:].decode("ascii"))


_DECODERS: Final[dict[int, tuple[str, Callable[[bytes], object]]]] = {
    EXT_DATETIME: ("datetime", _decode_datetime),
    EXT_CURRINT: ("Amount", _decode_amount),
    EXT_DATE: ("date", _decode_date),
    EXT_TIME: ("time", _decode_time),
    EXT_DECIMAL: ("Decimal", _decode_decimal),
    EXT_DATETIME_UTC: ("UTC datetime", _decode_datetime_utc),
}


def _decode_ext(code: int, data: bytes) -> object:
    entry = _DECODERS.get(code)
    if entry is None:
        raise DecodeError(f"Cannot decode unknown MessagePack extension type {code}")
    kind, decode = entry
    try:
        return decode(data)
    except Exception as exc:  # struct.error, ValueError, OverflowError, InvalidOperation, ...
        raise DecodeError(f"Invalid {kind} (extension type {code}, payload {data[:40].hex()}): {exc}") from exc


def _describe(exc: Exception, size: int) -> str:
    # Some msgpack errors carry no message or a cryptic one; say what they mean.
    text = str(exc)
    if isinstance(exc, msgpack.ExtraData):
        return f"{len(exc.extra)} extra bytes after the message"
    if isinstance(exc, msgpack.StackError):
        return "nested too deeply"
    if isinstance(exc, msgpack.FormatError):
        return "not MessagePack (invalid type byte)"
    if "incomplete input" in text:
        return "truncated (incomplete input)"
    if "exceeds max_" in text:
        return f"a length header claims more than the {size}-byte message can hold ({text})"
    return f"{type(exc).__name__}: {text}"


class MsgpackSerializer(Serializer):
    """MessagePack with PySOA's extension types; the default serializer.

    ``dict_to_blob`` raises only :class:`~pysoa.errors.EncodeError` (naming the offending type
    and where it is); ``blob_to_dict`` raises only :class:`~pysoa.errors.DecodeError`. Decoding
    refuses inputs over ``max_message_size_in_bytes`` up front, and bounds every length msgpack
    reads by the input's size, so a few hostile bytes cannot make it allocate much.
    """

    name = "msgpack"
    mime_type = "application/msgpack"

    # PySOA 1.4 exposed the extension codes on the class.
    EXT_DATETIME: Final = EXT_DATETIME
    EXT_CURRINT: Final = EXT_CURRINT
    EXT_DATE: Final = EXT_DATE
    EXT_TIME: Final = EXT_TIME
    EXT_DECIMAL: Final = EXT_DECIMAL
    EXT_DATETIME_UTC: Final = EXT_DATETIME_UTC

    def dict_to_blob(self, message_dict: Mapping[str, Any]) -> bytes:
        if not isinstance(message_dict, dict):
            if not isinstance(message_dict, Mapping):
                raise EncodeError(f"A message must be a dict, not {_type_name(message_dict)}")
            message_dict = dict(message_dict)
        try:
            packer: msgpack.Packer = _packers.fast
        except AttributeError:
            packer = _new_fast_packer()
        try:
            try:
                blob: bytes = packer.pack(message_dict)
            except UnicodeEncodeError:
                blob = _surrogate_packer().pack(message_dict)
        except _Unsupported as exc:
            offender = exc.value
            where = find_value_path(message_dict, lambda node: node is offender)
            raise EncodeError(f"{exc.reason} (at {where})" if where else exc.reason) from None
        except ValueError as exc:
            if "recursion limit" in str(exc):
                raise EncodeError("Cannot serialize message: nested too deeply or contains itself") from exc
            raise EncodeError(f"Cannot serialize message: {exc}") from exc
        except Exception as exc:
            # Whatever a value's own methods raise (a tzinfo's utcoffset, a str subclass, ...).
            raise EncodeError(f"Cannot serialize message: {type(exc).__name__}: {exc}") from exc
        return blob

    def blob_to_dict(self, blob: bytes) -> dict[str, Any]:
        try:
            size = len(blob)
        except TypeError:
            raise DecodeError(f"Cannot decode {_type_name(blob)}: expected bytes") from None
        if size > self.max_message_size_in_bytes:
            raise DecodeError(f"Message of {size} bytes exceeds the limit of {self.max_message_size_in_bytes} bytes")
        try:
            # Every container/str/bin/ext needs at least one byte per element (a map two), so no valid
            # message declares a length above the input's size; ``unpackb`` bounds every max_*_len by
            # it unless told otherwise (msgpack >= 1.0), so a lying header fails before allocating.
            # Passing those bounds again would only cost keyword parsing on every message; raw=False
            # is the default too. tests/core/serializer/test_msgpack_errors.py checks the bounds hold.
            message = msgpack.unpackb(
                blob,
                ext_hook=_decode_ext,
                strict_map_key=False,
                unicode_errors="surrogatepass",
                timestamp=3,
            )
        except DecodeError:
            raise
        except Exception as exc:
            raise DecodeError(f"Invalid MessagePack message: {_describe(exc, size)}") from exc
        if not isinstance(message, dict):
            raise DecodeError(f"A message must be a MessagePack map, not {_type_name(message)}")
        return message

    def envelope_head(self, blob: bytes) -> tuple[Any, dict[str, Any]] | None:
        # A streaming read: keys are looked at one by one and other values (the body) skipped.
        found: dict[str, Any] = {}
        try:
            unpacker = msgpack.Unpacker(
                ext_hook=_decode_ext,
                raw=False,
                strict_map_key=False,
                unicode_errors="surrogatepass",
                timestamp=3,
                max_buffer_size=max(len(blob), 1),
            )
            unpacker.feed(blob)
            for _ in range(unpacker.read_map_header()):
                key = unpacker.unpack()
                if key in ("request_id", "meta") and key not in found:
                    found[key] = unpacker.unpack()
                    if len(found) == 2:
                        break
                else:
                    unpacker.skip()
        except Exception:
            return None
        meta = found.get("meta")
        if "request_id" not in found or not isinstance(meta, dict):
            return None
        return found["request_id"], meta
