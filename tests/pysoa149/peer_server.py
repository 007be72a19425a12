"""A PySOA 1.4.9 service for interop tests; runs inside the interop venv (see env.py), never in the dev venv.

Usage (every option also reads the environment variable shown):

    .interop-venv/bin/python tests/pysoa149/peer_server.py --redis-port 6380 [options]

    --redis-host HOST             PYSOA149_REDIS_HOST         default 127.0.0.1
    --redis-port PORT             PYSOA149_REDIS_PORT         required
    --service NAME                PYSOA149_SERVICE            default pysoa149
    --serializer msgpack|json     PYSOA149_SERIALIZER         server's default serializer (replies still follow the
                                                              requester's content type); default msgpack
    --chunk-messages-larger-than-bytes N   PYSOA149_CHUNK     default off; PySOA requires N >= 102400
    --maximum-message-size-in-bytes N      PYSOA149_MAX_SIZE  default PySOA's (256000 on a server); PySOA requires
                                                              >= 5 x the chunk threshold when chunking is on
    --receive-timeout SECONDS     PYSOA149_RECEIVE_TIMEOUT    blocking-read timeout (int); bounds SIGTERM latency;
                                                              default 1
    --log-level LEVEL             PYSOA149_LOG_LEVEL          stderr logging; default WARNING

Once Redis answers and the server loop is about to take its first request it prints ``READY`` on stdout. SIGTERM or
SIGINT stops it after the current request (at most one receive timeout later), with exit status 0.

Actions (besides PySOA's built-in ``status`` and ``introspect``):
    echo     returns its body unchanged
    square   {number: int} -> {square: int}
    fail     raises ActionError with one error: code/message/field from the body, defaulting to
             INVALID / "fail was asked to fail" / "reason"
    context  -> {context: request.context, switches: sorted switches, control: request.control}
    types    -> fixed typed values (datetime naive and pytz.UTC-aware, date, time, Decimal, Amount, bytes), plus
             echo: the body, echo_types: {key: type name of each body value} (see _describe)
    big      {size: int} -> {data: "x" * size}
    sleep    {seconds: number} -> {slept: seconds}
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import logging
import os
import sys
import time
from typing import Any

import currint
import pytz
import redis
from conformity import fields

from pysoa.common.errors import Error
from pysoa.server.action.base import Action
from pysoa.server.errors import ActionError
from pysoa.server.server import Server
from pysoa.server.settings import ServerSettings

# The values `types` returns; chosen so PySOA's float-based datetime encoding is exact for them.
TYPED_VALUES: dict[str, Any] = {
    "datetime": datetime.datetime(2020, 1, 2, 3, 4, 5, 678901),
    "datetime_utc": datetime.datetime(2021, 6, 7, 8, 9, 10, 123456, tzinfo=pytz.UTC),
    "date": datetime.date(2020, 1, 2),
    "time": datetime.time(3, 4, 5, 6),
    "decimal": decimal.Decimal("12.3400"),
    "amount": currint.Amount.from_code_and_minor("USD", 1234),
    "bytes": b"\x00\x01\xff",
}


def _describe(value: Any) -> str:
    """Name a decoded value's type the way the interop tests compare them."""
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


class EchoAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        return dict(request.body)


class SquareAction(Action):
    request_schema = fields.Dictionary({"number": fields.Integer()})

    def run(self, request: Any) -> dict[str, Any]:
        return {"square": request.body["number"] ** 2}


class FailAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        body = request.body
        raise ActionError(
            errors=[
                Error(
                    code=body.get("code", "INVALID"),
                    message=body.get("message", "fail was asked to fail"),
                    field=body.get("field", "reason"),
                )
            ]
        )


class ContextAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        return {
            "context": dict(request.context),
            "switches": sorted(request.switches),
            "control": dict(request.control),
        }


class TypesAction(Action):
    def run(self, request: Any) -> dict[str, Any]:
        body = dict(request.body)
        return dict(TYPED_VALUES, echo=body, echo_types={key: _describe(value) for key, value in body.items()})


class BigAction(Action):
    request_schema = fields.Dictionary({"size": fields.Integer(gte=0)})

    def run(self, request: Any) -> dict[str, Any]:
        return {"data": "x" * request.body["size"]}


class SleepAction(Action):
    request_schema = fields.Dictionary({"seconds": fields.Any(fields.Integer(gte=0), fields.Float(gte=0))})

    def run(self, request: Any) -> dict[str, Any]:
        time.sleep(request.body["seconds"])
        return {"slept": request.body["seconds"]}


class PeerServer(Server):
    service_name = "pysoa149"
    action_class_map = {
        "echo": EchoAction,
        "square": SquareAction,
        "fail": FailAction,
        "context": ContextAction,
        "types": TypesAction,
        "big": BigAction,
        "sleep": SleepAction,
    }

    _announced = False

    def handle_next_request(self) -> None:
        # The first call happens inside run() after PySOA installed its SIGTERM/SIGINT handlers, so a harness that
        # sends SIGTERM right after READY gets a clean shutdown rather than the default signal death.
        if not self._announced:
            self._announced = True
            print("READY", flush=True)
        super().handle_next_request()


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="PySOA 1.4.9 peer service for interop tests")
    parser.add_argument("--redis-host", default=_env("PYSOA149_REDIS_HOST", "127.0.0.1"))
    parser.add_argument("--redis-port", type=int, default=_env("PYSOA149_REDIS_PORT"))
    parser.add_argument("--service", default=_env("PYSOA149_SERVICE", "pysoa149"))
    parser.add_argument("--serializer", choices=("msgpack", "json"), default=_env("PYSOA149_SERIALIZER", "msgpack"))
    parser.add_argument("--chunk-messages-larger-than-bytes", type=int, default=_env("PYSOA149_CHUNK"))
    parser.add_argument("--maximum-message-size-in-bytes", type=int, default=_env("PYSOA149_MAX_SIZE"))
    parser.add_argument("--receive-timeout", type=int, default=_env("PYSOA149_RECEIVE_TIMEOUT", "1"))
    parser.add_argument("--log-level", default=_env("PYSOA149_LOG_LEVEL", "WARNING"))
    args = parser.parse_args(argv)
    if args.redis_port is None:
        parser.error("--redis-port (or PYSOA149_REDIS_PORT) is required")
    return args


def make_settings(args: argparse.Namespace) -> ServerSettings:
    transport_kwargs: dict[str, Any] = {
        "backend_type": "redis.standard",
        "backend_layer_kwargs": {"hosts": [(args.redis_host, int(args.redis_port))]},
        "receive_timeout_in_seconds": int(args.receive_timeout),
    }
    if args.serializer == "json":
        transport_kwargs["default_serializer_config"] = {
            "path": "pysoa.common.serializer.json_serializer:JSONSerializer",
        }
    if args.chunk_messages_larger_than_bytes is not None:
        transport_kwargs["chunk_messages_larger_than_bytes"] = int(args.chunk_messages_larger_than_bytes)
    if args.maximum_message_size_in_bytes is not None:
        transport_kwargs["maximum_message_size_in_bytes"] = int(args.maximum_message_size_in_bytes)
    return ServerSettings(
        {
            "transport": {
                "path": "pysoa.common.transport.redis_gateway.server:RedisServerTransport",
                "kwargs": transport_kwargs,
            },
        }
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = make_settings(args)
    # Fail fast with a clear message instead of PySOA's retry loop when Redis is not there.
    redis.StrictRedis(host=args.redis_host, port=int(args.redis_port), socket_timeout=5).ping()
    server_class = type("PeerServer", (PeerServer,), {"service_name": args.service})
    server_class(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
