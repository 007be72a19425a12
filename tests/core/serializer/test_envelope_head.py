"""Reading an envelope's request id and meta without its body (for answering requests too large to decode)."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from pysoa.common.serializer.msgpack_serializer import MsgpackSerializer
from soa_json.serializer import JSONSerializer

META = {"reply_to": "service.svc.0123!abcd", "client_version": [0, 70, 0], "__expiry__": 1.5}


def test_the_head_is_read_whatever_the_key_order_and_the_body() -> None:
    serializer = MsgpackSerializer(max_message_size_in_bytes=10)  # the limit does not apply: the body is not decoded
    in_order = msgpack.packb({"request_id": 7, "meta": META, "body": {"blob": "x" * 1000}})
    body_first = msgpack.packb({"body": [b"\x00" * 1000, {"deep": [[1]]}], "meta": META, "request_id": "r-7"})
    assert serializer.envelope_head(in_order) == (7, META)
    assert serializer.envelope_head(body_first) == ("r-7", META)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\xc1",
        msgpack.packb([1, 2]),
        msgpack.packb({"request_id": 1, "body": {}}),
        msgpack.packb({"meta": META, "body": {}}),
        msgpack.packb({"request_id": 1, "meta": "not a map"}),
        msgpack.packb({"request_id": 1, "meta": META})[:-3],  # truncated
        msgpack.packb({"body": "x" * 100, "request_id": 1, "meta": META})[:40],  # truncated inside the body
    ],
)
def test_anything_else_gives_none(blob: bytes) -> None:
    assert MsgpackSerializer().envelope_head(blob) is None


def test_a_serializer_that_cannot_read_in_part_gives_none() -> None:
    envelope: dict[str, Any] = {"request_id": 7, "meta": META, "body": {}}
    assert JSONSerializer().envelope_head(JSONSerializer().dict_to_blob(envelope)) is None
