"""The soa-core side of the interop tests: a service whose actions mirror the PySOA 1.4.9 peer server's.

Every action behaves as the one of the same name in ``tests/pysoa149/peer_server.py``, so a test can send the same
calls to both servers and expect the same answers (``echo``, ``square``, ``fail``, ``context``, ``types``, ``big``,
``sleep``); ``crash`` is extra. Served by worker processes (tests/interop/workers.py); the tests import the values.
"""

from __future__ import annotations

import datetime
import decimal
import time
from typing import Any

import currint
from conformity import fields

from pysoa.common.types import Error
from pysoa.errors import ActionError
from pysoa.server import Server
from pysoa.server.action import Action

__all__ = [
    "CHUNK_THRESHOLD",
    "EDGE_BODY",
    "PYSOA_CHUNK_SERVICE",
    "PYSOA_SERVICE",
    "SOACORE_CHUNK_SERVICE",
    "SOACORE_SERVICE",
    "TYPED_INPUT",
    "TYPED_INPUT_TYPES",
    "TYPED_VALUES",
    "ChunkingInteropServer",
    "InteropServer",
    "describe",
]

# The services the interop tests run: soa-core's (this module's classes) and PySOA 1.4.9's (peer_server.py).
SOACORE_SERVICE = "soacore"
SOACORE_CHUNK_SERVICE = "soacore_chunk"  # chunk_messages_larger_than_bytes=102400
PYSOA_SERVICE = "pysoa149"
PYSOA_CHUNK_SERVICE = "pysoa149_chunk"  # chunk_messages_larger_than_bytes=102400
CHUNK_THRESHOLD = 102_400  # both chunking servers' chunk_messages_larger_than_bytes (PySOA's minimum)

# What `types` returns besides the echo. The datetimes are ones PySOA's float-based encoding carries exactly (the
# same values as the peer server's), so a PySOA client decodes them unchanged.
TYPED_VALUES: dict[str, Any] = {
    "datetime": datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
    "datetime_utc": datetime.datetime(2021, 6, 7, 8, 9, 10, 123456, tzinfo=datetime.UTC),
    "date": datetime.date(2020, 1, 2),
    "time": datetime.time(3, 4, 5, 6),
    "decimal": decimal.Decimal("12.3400"),
    "amount": currint.Amount.from_code_and_minor("USD", 1234),
    "bytes": b"\x00\x01\xff",
}


# What the tests send to `types` (on both servers), and the type names `echo_types` must report for it. The
# datetimes are again ones PySOA's float-based encoding carries exactly.
TYPED_INPUT = {
    "naive": datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
    "utc": datetime.datetime(2021, 6, 7, 8, 9, 10, 123456, tzinfo=datetime.UTC),
    "date": datetime.date(1999, 12, 31),
    "time": datetime.time(23, 59, 59, 999999),
    "decimal": decimal.Decimal("-0.5000"),
    "amount": currint.Amount.from_code_and_minor("JPY", -5),
    "bytes": b"\x00\x01",
    "text": "héllo",
}
TYPED_INPUT_TYPES = {
    "naive": "datetime",
    "utc": "datetime-utc",
    "date": "date",
    "time": "time",
    "decimal": "decimal",
    "amount": "amount",
    "bytes": "bytes",
    "text": "str",
}

# Values at the edges of MessagePack's and the extension types' ranges, for `echo`.
EDGE_BODY: dict[str, Any] = {
    "int_keys": {1: "one", 2: "two"},
    "bool_key": {True: 1},
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "uint64_max": 2**64 - 1,
    "float_max": 1e308,
    "negative_zero": -0.0,
    "empty_bytes": b"",
    "emoji": "😀",
    "empty_map": {},
    "empty_list": [],
    "nested": [[{"a": [b"x", None]}]],
    "decimal_exponent": decimal.Decimal("1E+2"),
    "decimal_negative_zero": decimal.Decimal("-0"),
    "date_min": datetime.date(1, 1, 1),
    "date_max": datetime.date(9999, 12, 31),
    "before_epoch": datetime.datetime(1969, 12, 31, 23, 59, 59),
    "epoch": datetime.datetime(1970, 1, 1),
    "midnight": datetime.time(0, 0),
    "amount_zero": currint.Amount.from_code_and_minor("EUR", 0),
}


def describe(value: Any) -> str:
    """Name a decoded value's type exactly as the peer server's ``_describe`` does."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return "datetime"
        return "datetime-utc" if value.utcoffset() == datetime.timedelta(0) else "datetime-aware"
    for kind, name in (
        (bool, "bool"),
        (int, "int"),
        (float, "float"),
        (str, "str"),
        (bytes, "bytes"),
        (datetime.date, "date"),
        (datetime.time, "time"),
        (decimal.Decimal, "decimal"),
        (currint.Amount, "amount"),
        (list, "list"),
        (dict, "dict"),
    ):
        if isinstance(value, kind):
            return name
    return "none" if value is None else type(value).__name__


def echo(request: Any) -> dict[str, Any]:
    return dict(request.body)


class SquareAction(Action):
    request_schema = fields.Dictionary({"number": fields.Integer()})

    def run(self, request: Any) -> dict[str, Any]:
        return {"square": request.body["number"] ** 2}


def fail(request: Any) -> dict[str, Any]:
    body = request.body
    raise ActionError(
        [
            Error(
                code=body.get("code", "INVALID"),
                message=body.get("message", "fail was asked to fail"),
                field=body.get("field", "reason"),
            )
        ]
    )


def context(request: Any) -> dict[str, Any]:
    return {
        "context": dict(request.context),
        "switches": sorted(request.switches),
        "control": dict(request.control),
    }


def types(request: Any) -> dict[str, Any]:
    body = dict(request.body)
    return dict(TYPED_VALUES, echo=body, echo_types={key: describe(value) for key, value in body.items()})


class BigAction(Action):
    request_schema = fields.Dictionary({"size": fields.Integer(gte=0)})

    def run(self, request: Any) -> dict[str, Any]:
        return {"data": "x" * request.body["size"]}


class SleepAction(Action):
    request_schema = fields.Dictionary({"seconds": fields.Any(fields.Integer(gte=0), fields.Float(gte=0))})

    def run(self, request: Any) -> dict[str, Any]:
        time.sleep(request.body["seconds"])
        return {"slept": request.body["seconds"]}


def time_left(request: Any) -> dict[str, Any]:
    return {"time_left": request.time_left()}


def crash(request: Any) -> dict[str, Any]:
    raise ZeroDivisionError("crash was asked to crash")


class InteropServer(Server):
    """The soa-core service PySOA 1.4.9 clients call."""

    service_name = SOACORE_SERVICE
    action_class_map = {
        "echo": echo,
        "square": SquareAction,
        "fail": fail,
        "context": context,
        "types": types,
        "big": BigAction,
        "sleep": SleepAction,
        "crash": crash,  # soa-core only: the peer server has no action that fails unexpectedly
        "time_left": time_left,  # soa-core only: PySOA requests have no deadline
    }


class ChunkingInteropServer(InteropServer):
    """The same actions under another name, served with chunked responses on (see the worker settings)."""

    service_name = SOACORE_CHUNK_SERVICE
