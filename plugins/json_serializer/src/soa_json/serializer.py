"""The JSON serializer (``json``, ``application/json``), wire-compatible with PySOA 1.4's ``JSONSerializer``.

Output is compact UTF-8 JSON (``separators=(",", ":")``, non-ASCII text as UTF-8). PySOA 1.4 peers
write ``json.dumps`` defaults (spaces, ``\\uXXXX`` escapes) and read any valid JSON, so both sides
understand each other. A string holding a lone surrogate cannot be UTF-8, so such a message is
written with ``\\uXXXX`` escapes instead and still round-trips exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn

from pysoa.common.serializer.base import Serializer, find_value_path
from pysoa.errors import DecodeError, EncodeError

__all__ = ["JSONSerializer"]


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class _Unsupported(Exception):
    def __init__(self, value: object) -> None:
        super().__init__(value)
        self.value = value


def _reject(value: object) -> NoReturn:
    # json calls ``default`` for every value it cannot write; we never convert, only name the value.
    raise _Unsupported(value)


def _is_non_finite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


# Built once: json.dumps would build an encoder per call for non-default options.
_UTF8_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_reject)
_ASCII_ENCODER: Final = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"), default=_reject)
_DECODER: Final = json.JSONDecoder()


def _at(message: object, matches: Callable[[object], bool]) -> str:
    where = find_value_path(message, matches)
    return f" (at {where})" if where else ""


class JSONSerializer(Serializer):
    """Plain JSON: dicts, lists (tuples become lists), str, int, finite float, bool and None.

    ``dict_to_blob`` raises only :class:`~pysoa.errors.EncodeError`: for values JSON cannot carry
    (bytes, datetime, Decimal, sets, ...), for NaN and infinities (not JSON), for self-containing
    structures, and for dict keys other than str, int, float, bool or None (those four are written
    as strings, as ``json.dumps`` does). ``blob_to_dict`` raises only
    :class:`~pysoa.errors.DecodeError`: input over ``max_message_size_in_bytes`` (checked first),
    invalid UTF-8, invalid JSON, or a top level that is not an object. It accepts the ``NaN`` and
    ``Infinity`` literals, which PySOA 1.4 peers can write.
    """

    name = "json"
    mime_type = "application/json"

    def dict_to_blob(self, message_dict: Mapping[str, Any]) -> bytes:
        if not isinstance(message_dict, dict):
            if not isinstance(message_dict, Mapping):
                raise EncodeError(f"A message must be a dict, not {_type_name(message_dict)}")
            message_dict = dict(message_dict)
        try:
            text = _UTF8_ENCODER.encode(message_dict)
            try:
                return text.encode("utf-8")
            except UnicodeEncodeError:
                return _ASCII_ENCODER.encode(message_dict).encode("ascii")
        except _Unsupported as exc:
            bad = exc.value
            raise EncodeError(
                f"Cannot serialize value of type {_type_name(bad)} to JSON{_at(message_dict, lambda v: v is bad)}"
            ) from None
        except ValueError as exc:
            if "Out of range float" in str(exc):
                raise EncodeError(
                    f"Cannot serialize NaN or Infinity: not valid JSON{_at(message_dict, _is_non_finite)}"
                ) from exc
            raise EncodeError(f"Cannot serialize message to JSON: {exc}") from exc
        except RecursionError as exc:
            raise EncodeError("Cannot serialize message to JSON: nested too deeply") from exc
        except Exception as exc:
            # TypeError for unsupported key types, or whatever a value's own methods raise.
            raise EncodeError(f"Cannot serialize message to JSON: {type(exc).__name__}: {exc}") from exc

    def blob_to_dict(self, blob: bytes) -> dict[str, Any]:
        try:
            size = len(blob)
        except TypeError:
            raise DecodeError(f"Cannot decode {_type_name(blob)}: expected bytes") from None
        if size > self.max_message_size_in_bytes:
            raise DecodeError(f"Message of {size} bytes exceeds the limit of {self.max_message_size_in_bytes} bytes")
        try:
            text = str(blob, "utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"Invalid JSON message: not UTF-8 ({exc})") from exc
        except TypeError as exc:
            raise DecodeError(f"Cannot decode {_type_name(blob)}: expected bytes") from exc
        try:
            message = _DECODER.decode(text)
        except RecursionError as exc:
            raise DecodeError("Invalid JSON message: nested too deeply") from exc
        except Exception as exc:  # JSONDecodeError, ValueError (huge integer literals), ...
            raise DecodeError(f"Invalid JSON message: {exc}") from exc
        if not isinstance(message, dict):
            raise DecodeError(f"A message must be a JSON object, not {_type_name(message)}")
        return message
