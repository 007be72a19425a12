"""A small tagged JSON encoding that carries PySOA's typed values between processes.

The PySOA 1.4.9 peer scripts and the soa-core test side exchange call specs and results as JSON. Plain JSON would
lose the types the wire protocol carries, so values JSON cannot represent become tagged objects::

    {"__type__": "datetime", "value": "2020-01-02T03:04:05.678901"}          naive datetime
    {"__type__": "datetime", "value": "2020-01-02T03:04:05.678901+00:00"}    aware datetime (offset kept)
    {"__type__": "date", "value": "2020-01-02"}
    {"__type__": "time", "value": "03:04:05.000006"}
    {"__type__": "decimal", "value": "12.3400"}                               str(Decimal), exact
    {"__type__": "amount", "currency": "USD", "minor": 1234}                  currint.Amount
    {"__type__": "bytes", "value": "AAE="}                                    base64
    {"__type__": "dict", "items": [[key, value], ...]}                        a map whose keys are not all str,
                                                                              or that has a "__type__" key
Tuples become lists, as they do in MessagePack. Anything else is a ``TypeError`` naming the type.

Decoding gives aware UTC datetimes the ``utc`` tzinfo the caller passes (PySOA 1.4.9 only encodes ``pytz.UTC``;
soa-core's side keeps the default ``datetime.timezone.utc``). Stdlib only; ``currint`` is imported on first use.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any

__all__ = ["TAG", "decode", "dumps", "encode", "loads"]

TAG = "__type__"


def _amount_class() -> type:
    import currint  # only the processes that actually meet an Amount need currint installed

    return currint.Amount  # type: ignore[no-any-return]


def encode(value: Any) -> Any:
    """Turn ``value`` into plain JSON-ready data, tagging the typed values."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and TAG not in value:
            return {key: encode(item) for key, item in value.items()}
        return {TAG: "dict", "items": [[encode(key), encode(item)] for key, item in value.items()]}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, datetime.datetime):  # before date: a datetime is a date
        return {TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, datetime.date):
        return {TAG: "date", "value": value.isoformat()}
    if isinstance(value, datetime.time):
        return {TAG: "time", "value": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {TAG: "decimal", "value": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {TAG: "bytes", "value": base64.b64encode(bytes(value)).decode("ascii")}
    if type(value).__module__.split(".")[0] == "currint" and type(value).__name__ == "Amount":
        return {TAG: "amount", "currency": value.currency.code, "minor": int(value.value)}
    raise TypeError(f"tagged_json cannot encode a value of type {type(value).__module__}.{type(value).__qualname__}")


def decode(data: Any, *, utc: datetime.tzinfo = datetime.UTC) -> Any:
    """Inverse of :func:`encode`; aware datetimes at offset zero get ``utc`` as their tzinfo."""
    if isinstance(data, list):
        return [decode(item, utc=utc) for item in data]
    if not isinstance(data, dict):
        return data
    tag = data.get(TAG)
    if tag is None:
        return {key: decode(item, utc=utc) for key, item in data.items()}
    try:
        return _decode_tagged(tag, data, utc)
    except (KeyError, TypeError, ValueError, decimal.InvalidOperation) as exc:
        raise ValueError(f"tagged_json: bad {tag!r} value {data!r}: {exc}") from exc


def _decode_tagged(tag: str, data: dict[str, Any], utc: datetime.tzinfo) -> Any:
    if tag == "datetime":
        parsed = datetime.datetime.fromisoformat(data["value"])
        if parsed.tzinfo is not None and parsed.utcoffset() == datetime.timedelta(0):
            parsed = parsed.replace(tzinfo=utc)
        return parsed
    if tag == "date":
        return datetime.date.fromisoformat(data["value"])
    if tag == "time":
        return datetime.time.fromisoformat(data["value"])
    if tag == "decimal":
        return decimal.Decimal(data["value"])
    if tag == "bytes":
        return base64.b64decode(data["value"], validate=True)
    if tag == "amount":
        return _amount_class().from_code_and_minor(data["currency"], int(data["minor"]))  # type: ignore[attr-defined]
    if tag == "dict":
        return {decode(key, utc=utc): decode(item, utc=utc) for key, item in data["items"]}
    raise ValueError(f"tagged_json: unknown tag {tag!r}")


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps(encode(value))``; keyword arguments go to ``json.dumps``."""
    return json.dumps(encode(value), **kwargs)


def loads(text: str | bytes, *, utc: datetime.tzinfo = datetime.UTC) -> Any:
    """``decode(json.loads(text))``."""
    return decode(json.loads(text), utc=utc)
